"""RucioInstance configurations of the local server, each with its own token cache in the state dir."""
from staging.sources.rucio import Client, RucioInstance, connect


def instance_for(local, login, *, slug: str = "", **options) -> RucioInstance:
    slug = slug or f"local-{login.account}"
    return RucioInstance(slug=slug, server_url=local.url, account=login.account, username=login.username,
                         password=login.password, token_dir=str(local.state_dir / "tokens" / slug),
                         timeout=options.pop("timeout", 20), **options)


def client_for(local, login, **options) -> Client:
    return connect(instance_for(local, login, **options))
