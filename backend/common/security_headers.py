"""Headers every response of the web process carries, whichever blueprint made it.

`X-Content-Type-Options: nosniff`: a browser takes each answer as the type it is declared
(JSON stays JSON, a page stays a page), never as what its bytes look like.
"""


def init_app(app):
    @app.after_request
    def no_sniffing(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response
