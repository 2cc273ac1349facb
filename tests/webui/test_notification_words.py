"""What a person reads when a notification (in the product: a "bericht") is not found: in this
product a "melding" is the report to Veilig Thuis, so the 404 of marking a notification read
says "Bericht niet gevonden." (issue 13 break-it: it said "Melding niet gevonden.")."""

import pytest


@pytest.mark.parametrize("ident", ["999999", "abc", "0"])
def test_an_unknown_notification_is_a_bericht_not_found(client, people, ident):
    r = client.post(f"/api/v1/notifications/{ident}/read", headers=people.auth("mw"))
    assert r.status_code == 404
    assert r.get_json()["error"] == "Bericht niet gevonden."
    r = client.post(f"/api/v1/notifications/{ident}/read",
                    headers={**people.auth("mw"), "Accept-Language": "en"})
    assert r.get_json()["error"] == "Notification not found."
