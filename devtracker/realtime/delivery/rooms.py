"""Room names. Rooms are always named by these helpers, never by hand."""

# Every authenticated socket is in this room: presence, activity and system broadcasts go here.
AUTHENTICATED_ROOM = "authenticated"


def task_room(task_id):
    """The room of the sockets viewing a task (the product note's `task:{taskId}`)."""
    return f"task:{task_id}"


def user_room(user_id):
    """The room of every socket of one user (the product note's `user_{userId}`)."""
    return f"user_{user_id}"
