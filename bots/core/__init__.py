"""The platform-independent conversational core of the Piaojia chat bot.

`Conversation.reply(user_id, text, api, now)` turns one chat message into one `Reply`.
It acts only through the citizen API object it is handed (duck-typed, see
bots/api_client.py); it never imports backend code or touches a database.
"""
from bots.core.dialog import Conversation, MemoryStore, Reply
from bots.core.errors import ApiError
from bots.core.nlu import Parsed, parse

__all__ = ["ApiError", "Conversation", "MemoryStore", "Parsed", "Reply", "parse"]
