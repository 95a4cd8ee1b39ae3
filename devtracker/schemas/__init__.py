"""marshmallow schemas, one module per resource: the one definition of every body and payload.

payload.py compiles each payload's builder from its schema; socket.py holds the client events'.
"""
