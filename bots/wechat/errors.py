"""Exceptions of the WeChat adapter. The handler maps them to HTTP statuses:
InvalidSignature (and its subclasses) → 403, MalformedMessage → 400, MessageTooLarge → 413."""


class WeChatError(Exception):
    """Base of every error the adapter raises."""


class InvalidSignature(WeChatError):
    """The request is not provably from WeChat for this account: missing or wrong signature or
    msg_signature, a timestamp outside the allowed skew, or a ciphertext for another app."""


class StaleTimestamp(InvalidSignature):
    """The signed timestamp is missing, not a number, or too far from the local clock."""


class InvalidAppId(InvalidSignature):
    """The decrypted message names another app id than ours."""


class MalformedMessage(WeChatError):
    """The body is not a message we can read: bad XML, missing fields, undecryptable."""


class HostileXML(MalformedMessage):
    """The XML carries a DTD, entity declarations or external references (refused outright)."""


class DecryptError(MalformedMessage):
    """The signature was right but the ciphertext does not decrypt to a well-formed payload."""


class MessageTooLarge(WeChatError):
    """The body is over the size cap."""


class SendFailed(WeChatError):
    """An outgoing call to the WeChat API failed for good (after the bounded retries, or with an
    error that retrying cannot fix). Nothing was delivered as far as we know."""

    def __init__(self, message: str, *, errcode: int | None = None, errmsg: str | None = None,
                 status: int | None = None, retryable: bool = False):
        super().__init__(message)
        self.errcode = errcode
        self.errmsg = errmsg
        self.status = status
        self.retryable = retryable
