from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    """Who made a change, as the timeline and audit logs record it."""

    type: str  # issuer | unit | citizen | operator | system | node
    id: str | None = None
    name: str | None = None


SYSTEM = Actor("system", None, "票夹平台")
