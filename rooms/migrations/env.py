"""Alembic environment: runs migrations on a connection handed in by the app, or on DATABASE_URL."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.ext.asyncio import create_async_engine

from realtime.settings import Settings
from rooms.store.schema import metadata

config = context.config


def run_on(connection) -> None:
    context.configure(connection=connection, target_metadata=metadata,
                      render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


async def run_from_settings() -> None:
    settings = Settings.from_env()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(settings.sqlalchemy_url)
    async with engine.begin() as connection:
        await connection.run_sync(run_on)
    await engine.dispose()


connection = config.attributes.get("connection")
if connection is not None:
    run_on(connection)
else:
    asyncio.run(run_from_settings())
