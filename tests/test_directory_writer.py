"""Socket users reach the directory in batches, off the connect path, and reads see them."""
from sqlalchemy import event

from devtracker.auth import Principal
from devtracker.extensions import db
from devtracker.services.users import DirectoryWriter, count_users


def test_many_new_users_are_one_background_write_and_counting_sees_waiting_ones(app):
    spawned, commits = [], []
    writer = DirectoryWriter(app, spawn=spawned.append, sleep=lambda seconds: None)
    with app.app_context():
        event.listen(db.engine, "commit", lambda conn: commits.append(1))
        for i in range(50):
            writer.add(Principal(f"user{i}", f"User {i}"))
        assert len(spawned) == 1  # one background task for the whole burst
        spawned[0]()  # the task: wait, then write everything waiting
        assert len(commits) == 1
        assert count_users() == 50
        writer.add(Principal("user0", "User 0"))  # known already: nothing to write
        assert len(spawned) == 1


def test_count_users_writes_what_is_waiting_first(app):
    with app.app_context():
        writer = app.extensions["devtracker.directory"]
        before = count_users()
        writer.add(Principal("late", "Late"))
        assert count_users() == before + 1  # no background task needed for the read to agree


def test_a_renamed_user_is_written_again(app):
    spawned = []
    writer = DirectoryWriter(app, spawn=spawned.append, sleep=lambda seconds: None)
    with app.app_context():
        writer.add(Principal("ann", "Ann"))
        spawned.pop()()
        writer.add(Principal("ann", "Ann B."))
        spawned.pop()()
        from devtracker.models import User
        assert db.session.get(User, "ann").username == "Ann B."


def test_a_stopped_writer_writes_what_waits_and_then_writes_at_once(app):
    spawned = []
    writer = DirectoryWriter(app, spawn=spawned.append, sleep=lambda seconds: None)
    with app.app_context():
        writer.add(Principal("early", "Early"))
        writer.stop()  # the app shuts down before the background task ran
        assert count_users() == 1
        spawned.pop()()  # the task wakes up after the stop: it touches nothing
        writer.add(Principal("late", "Late"))  # after the stop: written by the caller
        assert not spawned
        assert count_users() == 2
