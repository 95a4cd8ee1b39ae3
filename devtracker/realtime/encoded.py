"""Data that already knows its JSON text, so a fan-out does not encode it again per socket."""


class EncodedList(list):
    """A list that carries its JSON text (`json`): the fast path sends that text as is; every
    other path sees an ordinary list. Treat it as read-only: it may be shared and cached."""

    __slots__ = ("json",)

    def __init__(self, items, json_text):
        super().__init__(items)
        self.json = json_text
