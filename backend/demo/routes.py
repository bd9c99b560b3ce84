"""The demo identity provider (embedded default only): stands in for 海易办's login."""
from flask.views import MethodView
from flask_smorest import Blueprint

from backend.citizens.identity import sign_demo_assertion
from backend.citizens.schemas import DemoAssertionRequestSchema, DemoAssertionSchema, DemoCitizenListSchema
from backend.common.errors import NotFound
from backend.demo.citizens import DEMO_CITIZENS

blp = Blueprint("demo", __name__, url_prefix="/api/v1/demo", description="Demo identity provider (embedded default only, never in production)")


@blp.route("/citizens")
class Citizens(MethodView):
    @blp.alt_response(200, schema=DemoCitizenListSchema, success=True)
    def get(self):
        """The demo citizens one can sign in as."""
        return {"items": [{"handle": h, "name": p["name"]} for h, p in DEMO_CITIZENS.items()]}


@blp.route("/assertion")
class Assertion(MethodView):
    @blp.arguments(DemoAssertionRequestSchema)
    @blp.alt_response(200, schema=DemoAssertionSchema, description="valid 5 minutes, single use", success=True)
    def post(self, data):
        """A 海易办-style identity assertion for a demo citizen, signed by the demo IdP."""
        person = DEMO_CITIZENS.get(data["citizen"])
        if person is None:
            raise NotFound("No such demo citizen.", code="demo_citizen_not_found")
        return {"assertion": sign_demo_assertion(person)}
