"""Code series (DESIGN §5 admin: "code series"): the fiscal department allocates receipt
code ranges to issuers; a receipt must fall in its issuer's series, never in another's."""
import pytest



def series_url(hospital):
    return f"/api/v1/admin/issuers/{hospital.issuer_id}/code-series"


@pytest.fixture()
def sanya(operator):
    return operator.register_hospital()


@pytest.fixture()
def haikou(operator):
    return operator.register_hospital(name="海口市人民医院", credit_code="12460100428200001Y")


def allocate(client, operator, hospital, number_from, number_to, code="46060125"):
    return client.post(series_url(hospital), headers=operator.headers,
                       json={"code": code, "number_from": number_from, "number_to": number_to})


def test_allocated_series_bind_the_issuer_and_exclude_others(client, operator, sanya, haikou):
    resp = allocate(client, operator, sanya, "0000000001", "0000000999")
    assert resp.status_code == 201 and resp.json["code"] == "46060125"
    assert [s["number_to"] for s in client.get(series_url(sanya), headers=operator.headers).json] == ["0000000999"]
    assert sanya.issue(number="0000000500")[0].status_code == 202
    outside = sanya.issue(number="0000001000")[0]
    assert outside.status_code == 422 and "series_not_allocated" in {e["code"] for e in outside.json["errors"]}
    squatting = haikou.issue(number="0000000600")[0]  # haikou has no series, but this one is sanya's
    assert squatting.status_code == 422 and "series_of_another_issuer" in {e["code"] for e in squatting.json["errors"]}
    assert haikou.issue(number="0000005000")[0].status_code == 202  # no series of its own: unrestricted elsewhere


@pytest.mark.parametrize("body,code", [
    ({"code": "4606012", "number_from": "0000000001", "number_to": "0000000002"}, "invalid_code"),
    ({"code": "44060125", "number_from": "0000000001", "number_to": "0000000002"}, "wrong_province"),
    ({"code": "46060125", "number_from": "0000000009", "number_to": "0000000002"}, "invalid_number_range"),
    ({"code": "46060125", "number_from": "1", "number_to": "0000000002"}, "invalid_number_range"),
])
def test_bad_series_are_422_and_allocate_nothing(client, operator, sanya, body, code):
    resp = client.post(series_url(sanya), headers=operator.headers, json=body)
    assert resp.status_code == 422 and resp.json["code"] == code
    assert client.get(series_url(sanya), headers=operator.headers).json == []


def test_overlapping_series_are_409_whoever_holds_them(client, operator, sanya, haikou):
    assert allocate(client, operator, sanya, "0000000100", "0000000199").status_code == 201
    for hospital, first, last in ((haikou, "0000000150", "0000000300"), (sanya, "0000000050", "0000000100")):
        resp = allocate(client, operator, hospital, first, last)
        assert resp.status_code == 409 and resp.json["code"] == "series_overlap"
    assert allocate(client, operator, haikou, "0000000200", "0000000300").status_code == 201


def test_a_range_another_issuer_already_used_cannot_be_allocated(client, operator, sanya, haikou):
    assert haikou.issue(number="0000000042")[0].status_code == 202
    resp = allocate(client, operator, sanya, "0000000001", "0000000099")
    assert resp.status_code == 409 and resp.json["code"] == "series_in_use"
    assert allocate(client, operator, haikou, "0000000001", "0000000099").status_code == 201


def test_series_need_an_operator_and_a_known_issuer(client, operator, sanya):
    assert client.get(series_url(sanya)).status_code == 401
    assert client.get("/api/v1/admin/issuers/nope/code-series", headers=operator.headers).status_code == 404


def test_withdrawing_a_series_frees_the_range_and_keeps_accepted_receipts(client, operator, sanya, haikou):
    series_id = allocate(client, operator, sanya, "0000000001", "0000000999").json["id"]
    assert sanya.issue(number="0000000007")[0].status_code == 202
    assert client.delete(f"{series_url(haikou)}/{series_id}", headers=operator.headers).status_code == 404  # not haikou's
    assert client.delete(f"{series_url(sanya)}/{series_id}", headers=operator.headers).status_code == 204
    assert client.get(series_url(sanya), headers=operator.headers).json == []
    assert haikou.issue(number="0000000500")[0].status_code == 202  # no longer sanya's
    # The part sanya already used cannot go to haikou; the rest can.
    assert allocate(client, operator, haikou, "0000000001", "0000000010").json["code"] == "series_in_use"
    assert allocate(client, operator, haikou, "0000000008", "0000000999").status_code == 201


def test_with_series_required_an_issuer_without_series_cannot_issue(app_ctx, client, operator, sanya, monkeypatch):
    monkeypatch.setitem(app_ctx.config, "CODE_SERIES_REQUIRED", True)
    refused = sanya.issue(number="0000000001")[0]
    assert refused.status_code == 422 and "series_not_allocated" in {e["code"] for e in refused.json["errors"]}
    allocate(client, operator, sanya, "0000000001", "0000000999")
    assert sanya.issue(number="0000000001")[0].status_code == 202
