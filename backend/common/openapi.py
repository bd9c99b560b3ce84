"""Helpers documenting answers in the OpenAPI spec the way they are sent."""
from backend.extensions import ProblemSchema


def problem_response(blp, status: int, description: str):
    """Documents an error answer: problem details (application/problem+json)."""
    return blp.alt_response(status, schema=ProblemSchema, content_type="application/problem+json", description=description)
