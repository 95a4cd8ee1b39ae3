"""The ids users and tasks go by (SPEC §4), and the one message that says what they must be."""
import re

ID_RULE = "1-128 characters of [A-Za-z0-9_.:-]"
ID_MESSAGE = f"Must be {ID_RULE}."
ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,128}$"  # as documented (ECMA regex, for OpenAPI)
ID_RE = re.compile(ID_PATTERN[:-1] + r"\Z")  # `$` would also match before a final newline
ID_MAX_LENGTH = 128
USERNAME_MAX_LENGTH = 255


def is_id(value):
    """Whether `value` is a string that is a valid id."""
    return isinstance(value, str) and ID_RE.match(value) is not None
