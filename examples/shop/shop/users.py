"""User lookups: one new httpx client per call, the pattern this tool exists for."""

import httpx

API = "https://users.example.internal"


async def get_user(user_id: str, token: str) -> dict:
    async with httpx.AsyncClient(timeout=10.0, headers={"Authorization": f"Bearer {token}"}) as client:
        response = await client.get(f"{API}/users/{user_id}")
        return response.json()


async def get_users(user_ids: list[str], token: str) -> list[dict]:
    users = []
    for user_id in user_ids:
        # A new client (and TLS handshake) for every user.
        async with httpx.AsyncClient(timeout=10.0) as client:
            response = await client.get(f"{API}/users/{user_id}", headers={"Authorization": f"Bearer {token}"})
            users.append(response.json())
    return users


def ping() -> bool:
    return httpx.get(f"{API}/health", timeout=2.0).status_code == 200
