"""Assertions about the API's answers, shared by the unit tests (Flask test client)."""


def assert_json_error(response, status):
    """The app's error shape: JSON, never HTML, with the status repeated in the body."""
    assert response.status_code == status
    assert response.mimetype == "application/json"
    assert b"<html" not in response.data.lower()
    error = response.get_json()["error"]
    assert error["status"] == status
    assert error["message"]
    return error
