"""Who a write is attributed to (SPEC §1: services and admins may name an actor; users may not)."""
from dataclasses import dataclass

from ..errors import Forbidden
from .users import remember_user


@dataclass(frozen=True)
class Actor:
    """The user a write is attributed to."""

    user_id: str
    username: str


def resolve_actor(principal, actor=None):
    """The principal itself, or the `actor` a service or admin names; a user naming one is refused."""
    if actor is None:
        return Actor(principal.user_id, principal.username)
    if not principal.acts_for_others:
        raise Forbidden("Only services and admins may act on behalf of another user (actor).",
                        code="ACTOR_NOT_ALLOWED")
    username = actor.get("username") or actor["userId"]
    remember_user(actor["userId"], username)
    return Actor(actor["userId"], username)
