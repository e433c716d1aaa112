import asyncio

from channels.layers import channel_layers, get_channel_layer
from django.conf import settings

from tenants.testing import require_service


async def test_an_idle_receive_outlives_redis_py_default_socket_timeout():
    """A consumer waits on the layer for minutes between messages; the read must not time out after 5 s."""
    require_service("Redis (REDIS_URL)", bool(settings.REDIS_URL))
    channel_layers.backends.clear()
    layer = get_channel_layer()
    channel = await layer.new_channel()

    async def send_late():
        await asyncio.sleep(6.5)
        await layer.send(channel, {"type": "late.message"})

    sender = asyncio.create_task(send_late())
    message = await asyncio.wait_for(layer.receive(channel), 15)
    await sender
    assert message["type"] == "late.message"
