"""SECRET inputs over the API: encrypted with the server's key on submission, never answered
in clear, refused (422) without a key."""

from __future__ import annotations

from dataclasses import replace

import httpx
import pytest
from tests.api.conftest import PASSWORD, USER, client_of
from tests.api.executions_support import deploy, log_flow

from lanner.api.context import Services
from lanner.encryption import NOT_CONFIGURED, SecretCipher

KEY = bytes(range(32))
SECRET_INPUT = "inputs:\n  - id: pw\n    type: SECRET\n  - id: name\n    type: STRING\n"


async def test_secret_inputs_are_encrypted_and_returned_encrypted(
    services: Services, ns: str
) -> None:
    keyed = replace(services, settings=replace(services.settings, encryption_key=KEY))
    async with client_of(keyed, auth=(USER, PASSWORD)) as api:
        await deploy(api, log_flow(ns, extra=SECRET_INPUT))
        created = await api.post(
            f"/api/v1/executions/{ns}/hello", files={"pw": (None, "hunter22"), "name": (None, "n")}
        )
        assert created.status_code == 200, created.text
        body = created.json()
        assert body["inputs"]["name"] == "n"
        assert body["inputs"]["pw"] != "hunter22"
        assert SecretCipher(KEY).decrypt(body["inputs"]["pw"]) == "hunter22"
        fetched = (await api.get(f"/api/v1/executions/{body['id']}")).json()
        assert fetched["inputs"]["pw"] == body["inputs"]["pw"]
        stored = await services.store.get_execution("main", body["id"])
        assert stored is not None
        assert "hunter22" not in str(stored.inputs)


@pytest.mark.usefixtures("api_store")
async def test_without_a_key_secret_inputs_are_refused(api: httpx.AsyncClient, ns: str) -> None:
    await deploy(api, log_flow(ns, extra=SECRET_INPUT))
    response = await api.post(
        f"/api/v1/executions/{ns}/hello", files={"pw": (None, "hunter22"), "name": (None, "n")}
    )
    assert response.status_code == 422
    body = response.json()
    assert NOT_CONFIGURED in body["message"]
    assert body["_embedded"]["errors"][0]["path"] == "inputs.pw"
    listed = (await api.get("/api/v1/executions/search", params={"namespace": ns})).json()
    assert listed["total"] == 0
