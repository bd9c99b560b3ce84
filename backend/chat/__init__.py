"""Binding a chat account to a citizen (DESIGN §9): one-time codes shown in the mini-app,
redeemed by the bot with its own client token, answered with a delegated, scope-limited
citizen token. A chat account id is only ever taken from the bot, which has it from the
platform's signed callback; a citizen cannot bind an id they merely claim."""
