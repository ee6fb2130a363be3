"""Reveal of a connection's webhook URL: ADMIN or OWNER only, audit-logged, never cached.

Tokens are stored twice: as a SHA-256 hash, which the webhook endpoint looks up, and sealed by
the vault, which only this endpoint opens. A token in the legacy encoding (32 hexadecimal
characters) still matches by its hash until it is revealed here. The reveal replaces it with a
token in the current encoding (``whk_`` and 32 random bytes in URL-safe base64), and from then
on only the new URL is accepted.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from litestar import Controller, Response, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from sqlalchemy import update
from sqlalchemy.orm import Session

from api_gateway.auth import Caller, requires_role
from resources.app_db.models import Connection
from resources.app_db.session import session_scope
from resources.secrets_hashing import hash_secret, new_webhook_token
from resources.services.audit import VIEW_SECRET, record_audit
from resources.services.connections import get_connection
from resources.services.errors import ValidationFailed
from resources.settings import Settings
from resources.vault import Vault

logger = logging.getLogger(__name__)

WEBHOOK_PATH = "/api/pipelines/webhook/"
LEGACY_TOKEN = re.compile(r"[0-9a-fA-F]{32}")
TOKEN_PREFIX_CHARS = 4
NO_STORE_HEADERS = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def is_legacy_token(token: str) -> bool:
    return LEGACY_TOKEN.fullmatch(token) is not None


def upgrade_legacy_token(session: Session, vault: Vault, connection: Connection, legacy: str) -> str:
    """Replace a legacy token with a new one and return the token now stored.

    The update applies only while the stored hash is still the legacy one, so when two reveals
    race, one upgrade wins and the other returns the winner's token.
    """
    token = new_webhook_token()
    replaced = session.execute(
        update(Connection)
        .where(Connection.id == connection.id, Connection.webhook_token_hash == hash_secret(legacy))
        .values(webhook_token_hash=hash_secret(token), webhook_token_encrypted=vault.encrypt(token))
        .execution_options(synchronize_session=False)
    ).rowcount
    session.refresh(connection)
    if replaced:
        logger.info("connection %s: legacy webhook token upgraded to the current encoding", connection.id)
        return token
    return vault.decrypt(connection.webhook_token_encrypted)


def webhook_url_json(public_url: str, token: str) -> dict[str, str]:
    url = f"{public_url}{WEBHOOK_PATH}{token}"
    return {
        "webhookUrl": url,
        "tokenPrefix": token[:TOKEN_PREFIX_CHARS] + "...",
        "curlExample": f"curl -X POST {url}",
    }


class WebhookUrlController(Controller):
    path = "/connections"
    tags = ["connections"]

    @post(
        "/{connection_id:str}/webhook-url",
        guards=[requires_role("ADMIN")],
        status_code=200,
        sync_to_thread=True,
        summary="Reveal the webhook URL (audit-logged)",
    )
    def reveal(
        self,
        connection_id: FromPath[str],
        caller: NamedDependency[Caller],
        payload: NamedDependency[dict[str, Any]],
        settings: NamedDependency[Settings],
        vault: NamedDependency[Vault],
    ) -> Response[dict[str, str]]:
        if payload:
            field = sorted(payload)[0]
            raise ValidationFailed(f"{field} is not a field of this request; send an empty body", field=field)
        with session_scope(settings.database_url) as session:
            connection = get_connection(session, caller.workspace_id, connection_id)
            token = vault.decrypt(connection.webhook_token_encrypted)
            upgraded = is_legacy_token(token)
            if upgraded:
                token = upgrade_legacy_token(session, vault, connection, token)
            record_audit(
                session,
                caller,
                VIEW_SECRET,
                target_id=connection.id,
                details={"secret": "webhookUrl", "tokenUpgraded": upgraded},
            )
        logger.info("webhook URL of connection %s revealed to user %s", connection_id, caller.user_id)
        return Response(webhook_url_json(settings.public_url, token), headers=NO_STORE_HEADERS)
