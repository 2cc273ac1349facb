"""Issue 12 break-it findings: the engine gives codes and values, the web layer the words (in
Dutch and English); a wrong method on an API path is 405; every error of the add-user form at
once; the beheerder's use cases are one engine command whatever the door."""

from __future__ import annotations


def test_a_wrong_method_on_an_api_path_is_405_with_allow_in_the_readers_language(
        browser_like, sqlite_people):
    mw = sqlite_people.auth("mw")
    for method, path, allow in (("DELETE", "/api/v1/cases/1", {"GET"}),
                                ("PUT", "/api/v1/tasks", {"GET"}),
                                ("GET", "/api/v1/cases", {"POST"}),
                                ("PATCH", "/api/v1/processes", {"GET", "POST"}),
                                ("TRACE", "/api/v1/tasks", {"GET"})):
        for language, expected in ((None, "Deze handeling is hier niet mogelijk."),
                                   ("en", "This action is not possible here.")):
            headers = {**mw, **({"Accept-Language": language} if language else {})}
            response = browser_like.http.open(path, method=method, headers=headers)
            assert response.status_code == 405, (method, path)
            assert response.get_json() == {"error": expected}
            assert allow <= set(response.headers["Allow"].split(", ")), (method, path)
    # a path the API does not have stays 404
    unknown = browser_like.http.delete("/api/v1/bestaat-niet", headers=mw)
    assert unknown.status_code == 404 and "Allow" not in unknown.headers
