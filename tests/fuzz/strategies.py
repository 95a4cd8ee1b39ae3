"""Hypothesis strategies for socket event payloads, as JSON text (so that they can hold what
strict JSON refuses: NaN, 1e999, lone surrogates, numbers of thousands of digits)."""
import json

from hypothesis import strategies as st

from devtracker.sockets.namespace import EVENTS

# Tokens a lenient parser takes and a strict one refuses, or that sit at the edges of types.
ODD_NUMBERS = ["1e999", "-1e999", "NaN", "Infinity", "-Infinity", "1" + "0" * 400,
               "-" + "9" * 5000, "1e-999", "-0", "0.0", "9007199254740993", "2e308",
               "18446744073709551616", "9223372036854775808", "-9223372036854775809", "1E+2"]
ODD_STRINGS = ['"\\ud800"', '"\\udfff"', '"a\\ud800b"', '"\\u0000"', '"task_1\\u0000"', '""',
               '" "', '"\\u202e"', '"' + "x" * 129 + '"', '"' + "é" * 70_000 + '"', '"online"',
               '"away"', '"offline"', '"task_1"', '"Bearer "', '"\\"\\\\"']
LEAVES = st.one_of(
    st.sampled_from(ODD_NUMBERS + ODD_STRINGS + ["true", "false", "null"]),
    st.integers(min_value=-(2 ** 70), max_value=2 ** 70).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(json.dumps),
    st.text(max_size=40).map(lambda s: json.dumps(s, ensure_ascii=False)),
    st.text(max_size=40).map(json.dumps),
    st.from_regex(r"[A-Za-z0-9_.:-]{1,130}", fullmatch=True).map(json.dumps),
)
KEYS = st.sampled_from(["taskId", "isTyping", "id", "ids", "status", "token",
                        "lastNotificationId", "lastActivityId", "__proto__", "", "\\ud800"])


def _containers(children):
    pairs = st.tuples(KEYS | st.text(max_size=10).map(lambda s: json.dumps(s)[1:-1]), children)
    return st.one_of(
        st.lists(children, max_size=5).map(lambda items: "[" + ",".join(items) + "]"),
        st.lists(pairs, max_size=5).map(
            lambda kv: "{" + ",".join(f'"{k}":{v}' for k, v in kv) + "}"),
    )


VALUES = st.recursive(LEAVES, _containers, max_leaves=12)
DEEP = st.integers(min_value=50, max_value=5000).map(lambda n: "[" * n + "1" + "]" * n) | \
    st.integers(min_value=50, max_value=5000).map(lambda n: '{"a":' * n + "1" + "}" * n)


def _object(**fields):
    return st.fixed_dictionaries(fields).map(
        lambda kv: "{" + ",".join(f'"{k}":{v}' for k, v in kv.items()) + "}")


# Payloads near what each event takes, so that the fuzz reaches past the first type check.
SHAPED = {
    "authenticate": VALUES | _object(token=VALUES, lastNotificationId=VALUES, lastActivityId=VALUES),
    "auth:refresh": VALUES | _object(token=VALUES),
    "task:join": VALUES | _object(taskId=VALUES),
    "task:leave": VALUES | _object(taskId=VALUES),
    "task:typing": _object(taskId=VALUES, isTyping=VALUES) | VALUES,
    "presence:update": VALUES | _object(status=VALUES),
    "notification:read": VALUES | _object(id=VALUES) | _object(ids=st.lists(VALUES, max_size=4).map(
        lambda items: "[" + ",".join(items) + "]")),
    "notification:read_all": VALUES,
}
assert set(SHAPED) == set(EVENTS), "a new client event needs a payload strategy here"

UNKNOWN_NAMES = st.one_of(
    st.sampled_from(["connect", "disconnect", "error", "message", "newListener", "__proto__",
                     "task:joi", "TASK:JOIN", "system:shutdown", "x" * 100_000, "task:join\ud800",
                     "\ud800"]),
    st.text(max_size=30),
).map(lambda name: json.dumps(name))
EVENT_NAMES = st.sampled_from(sorted(EVENTS)).map(json.dumps)


@st.composite
def event_packets(draw):
    """`42<ack>[name, ...args]` text: a known event with a shaped or odd payload, or an unknown
    event; the ack id is the caller's, `{ack}` marks its place."""
    if draw(st.integers(0, 4)) == 0:
        name = draw(UNKNOWN_NAMES)
        args = draw(st.lists(VALUES, max_size=2))
    else:
        name = draw(EVENT_NAMES)
        shaped = SHAPED[json.loads(name)]
        args = draw(st.one_of(st.just([]), st.tuples(shaped).map(list),
                              st.tuples(DEEP).map(list), st.lists(VALUES, min_size=2, max_size=3)))
    return "[" + ",".join([name, *args]) + "]"


# Frames that are not a well-formed Socket.IO event.
MALFORMED = st.one_of(
    st.sampled_from([
        "4", "42", "42[", "42]", "42{}", "42[]", "42[1]", "42[null]", '42[{"a":1}]', "42[[]]",
        "42 [\"task:join\"]", "42x", "43", "431[]", "44", "45", "46", "47", "48", "49", "4a",
        "40", "40{", "40[]", "41", "410", "451-", '451-["task:join",{"_placeholder":true,"num":0}]',
        '451-["task:join",{"_placeholder":true,"num":7}]', '42999999999999999999999999["x"]',
        '42-1["task:join","t"]', "5", "6", "7", "0", "1{", "2probe", "3", "", " ", "\x00",
        '42["task:join","' + "a" * 200_000 + '"]', "4" + "[" * 100_000,
    ]),
    st.text(max_size=60).map(lambda s: "4" + s),
    st.text(max_size=60),
    st.binary(max_size=60),
)
