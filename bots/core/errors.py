"""The one error type the conversational core understands.

The API client (bots/api_client.py) raises it for every problem answer of the Piaojia API
(and for an unreachable API, as a 503); the core answers the citizen with its Chinese
`title`. A 401 means the chat binding has ended.
"""


class ApiError(Exception):
    def __init__(self, status: int, code: str | None = None, title: str | None = None):
        super().__init__(f"{status} {code or ''}: {title or ''}".strip())
        self.status = int(status)
        self.code = code
        self.title = title

    def __repr__(self) -> str:
        return f"ApiError({self.status!r}, {self.code!r}, {self.title!r})"
