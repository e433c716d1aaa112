"""Fixed-window rate limits for public forms, counted in the cache.

A counter is keyed by a scope and a blind index of the client address, so the cache never holds an address in
clear. Behind a proxy the address is only right when the server takes it from the proxy (daphne --proxy-headers).
"""

from __future__ import annotations

from django.core.cache import cache

from .crypto import blind_index

Limit = tuple[int, int]  # (how many, per how many seconds)


def ip_key(request, scope: str) -> str:
    return f"ratelimit:{scope}:{blind_index('ip', request.META.get('REMOTE_ADDR', ''))}"


def limited(key: str, limit: Limit) -> bool:
    return cache.get(key, 0) >= limit[0]


def count(key: str, limit: Limit) -> None:
    if cache.add(key, 1, limit[1]):
        return
    try:
        cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, limit[1])
