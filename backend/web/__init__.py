"""The node's faces: home page, the citizen mini-app (/app/), the unit console (/console/),
interactive API docs (/api/docs) and the vendored front-end files they share."""
