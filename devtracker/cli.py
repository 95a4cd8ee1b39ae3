"""`flask` commands: mint tokens, prune old activity and expired idempotency keys."""
from datetime import timedelta

import click
from flask_jwt_extended import create_access_token

from .auth import ROLES
from .ids import ID_RE, ID_RULE


def register_cli(app):
    """Attach the commands to the app's `flask` CLI."""

    @app.cli.command("token")
    @click.option("--user-id", required=True, help=f"The token's sub: {ID_RULE}.")
    @click.option("--username", help="Display name (default: the user id).")
    @click.option("--role", type=click.Choice(ROLES), default="user", show_default=True,
                  help="user acts as itself; service publishes for any user; admin does everything.")
    @click.option("--expires-in", type=click.IntRange(min=0), default=86400, show_default=True,
                  help="Lifetime in seconds; 0 mints a token that never expires "
                       "(refused where TOKEN_REQUIRE_EXP is on, as in production).")
    def token(user_id, username, role, expires_in):
        """Mint a token signed with JWT_SECRET_KEY, the way the main DevTracker app does."""
        if not ID_RE.match(user_id):
            raise click.BadParameter(f"must be {ID_RULE}", param_hint="--user-id")
        expires = timedelta(seconds=expires_in) if expires_in else False
        click.echo(create_access_token(identity=user_id, expires_delta=expires,
                                       additional_claims={"username": username or user_id,
                                                          "role": role}))

    @app.cli.command("prune-activity")
    @click.option("--older-than-days", type=click.IntRange(min=0), default=None,
                  help="Keep this many days of activity (default: ACTIVITY_RETENTION_DAYS).")
    def prune_activity_command(older_than_days):
        """Delete activity older than the retention period (run it daily, from cron or a timer)."""
        from .services.activity import prune_activity
        removed = prune_activity(older_than_days)
        click.echo(f"Deleted {removed} activity rows.")

    @app.cli.command("prune-idempotency")
    def prune_idempotency_command():
        """Delete idempotency records older than IDEMPOTENCY_TTL_HOURS."""
        from .storage import prune_idempotency_keys
        removed = prune_idempotency_keys()
        click.echo(f"Deleted {removed} idempotency records.")
