"""Billing: a client kept for the life of the object (already right) and two that are not."""

import ssl

import httpx

LEGACY_CA = "/etc/shop/legacy-ca.pem"


class BillingClient:
    def __init__(self, base_url: str) -> None:
        self._client = httpx.AsyncClient(base_url=base_url, timeout=5.0)

    async def charge(self, order_id: str, cents: int) -> dict:
        response = await self._client.post("/charges", json={"order": order_id, "amount": cents})
        return response.json()

    async def refund(self, charge_id: str) -> dict:
        client = httpx.AsyncClient(verify=False)
        try:
            response = await client.post(f"https://legacy-billing.internal/refunds/{charge_id}")
            return response.json()
        finally:
            await client.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()


def invoice_pdf(invoice_id: str, base_url: str) -> bytes:
    client = httpx.Client(base_url=base_url, verify=ssl.create_default_context(cafile=LEGACY_CA))
    return client.get(f"/invoices/{invoice_id}.pdf").content
