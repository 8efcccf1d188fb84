"""Unit tests of connection.resume: a Task taking over a coroutine we started ourselves.

The connection runs a handler's coroutine with ``send(None)`` and only creates a Task
if it suspends; ``resume`` must then behave exactly as if the Task had run it all along.
"""

import asyncio

import pytest

from protoweb.connection import resume


def start(coro):
    """Run ``coro`` up to its first suspension, as HTTPConnection._dispatch does."""
    try:
        return coro.send(None)
    except StopIteration:
        raise AssertionError("expected the coroutine to suspend") from None


async def hand_over(coro):
    return await resume(coro, start(coro))


def test_a_suspended_coroutine_finishes_under_a_task_with_its_result():
    steps = []

    async def handler():
        steps.append("start")
        await asyncio.sleep(0.01)  # waits on a future
        steps.append("after future")
        await asyncio.sleep(0)  # a bare yield
        steps.append("after yield")
        return "done"

    async def main():
        return await asyncio.create_task(hand_over(handler()))

    assert asyncio.run(main()) == "done"
    assert steps == ["start", "after future", "after yield"]


def test_exceptions_come_out_and_cancellation_goes_in():
    seen = []

    async def failing():
        await asyncio.sleep(0.01)
        raise ValueError("from the handler")

    async def cancelled():
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            seen.append("handler saw the cancellation")
            raise

    async def main():
        with pytest.raises(ValueError, match="from the handler"):
            await asyncio.create_task(hand_over(failing()))
        task = asyncio.create_task(hand_over(cancelled()))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert seen == ["handler saw the cancellation"]
