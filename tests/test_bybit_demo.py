"""Bybit's real demo account: opt-in, skipped unless BYBIT_DEMO_API_KEY and BYBIT_DEMO_API_SECRET are set.

CI never has keys or the network, so this file always skips there. With demo keys (created under "Demo Trading" on
bybit.com) and a network that reaches api-demo.bybit.com, it checks the real path end to end: the clock offset, the
keys' environment, the instrument's lot rules and a reconciliation. With BYBIT_DEMO_ORDER=1 it also buys the
smallest BTCUSDT quantity and sells it again (reduce-only), and checks both filled and the position is back.
"""
import asyncio, os
from decimal import Decimal
import pytest

KEY, SECRET = os.environ.get('BYBIT_DEMO_API_KEY'), os.environ.get('BYBIT_DEMO_API_SECRET')
pytestmark = pytest.mark.skipif(not (KEY and SECRET), reason='opt-in: set BYBIT_DEMO_API_KEY and BYBIT_DEMO_API_SECRET (Bybit demo keys)')


def test_demo_account_reconciles_and_trades(tmp_path):
    from tradebot.bybit.models import REST_HOSTS
    from tradebot.live.keys import Credentials, check_environment, install_redaction
    from tradebot.live.orders import OrderJournal
    from tradebot.live.rest import BybitRest
    from tradebot.live.exchange import OrderManager

    async def session():
        credentials = Credentials('demo', KEY, SECRET)
        check_environment('demo', REST_HOSTS['demo'], credentials=credentials)
        install_redaction(credentials)
        async with BybitRest(REST_HOSTS['demo'], credentials) as rest:
            offset = await rest.sync_time()
            probe = await rest.call('GET', '/v5/account/wallet-balance', {'accountType': 'UNIFIED'})
            assert probe.ok, (probe.outcome, probe.ret_code, probe.ret_msg)
            manager = OrderManager(OrderJournal(tmp_path / 'orders-demo.sqlite', 'demo'), rest, await rest.instrument('linear', 'BTCUSDT'), run='pytest')
            report = await manager.reconcile()
            orders = []
            if os.environ.get('BYBIT_DEMO_ORDER') == '1':
                reply, positions = await rest.positions('linear', 'BTCUSDT')
                price = float((await rest.call('GET', '/v5/market/tickers', {'category': 'linear', 'symbol': 'BTCUSDT'}, signed=False)).result['list'][0]['lastPrice'])
                qty = manager.instrument.min_order_qty
                orders.append(await manager.place('Buy', qty, price))
                orders.append(await manager.place('Sell', qty, price, reduce_only=True))
            return offset, report, orders, manager.journal.position('BTCUSDT')

    offset, report, orders, position = asyncio.run(session())
    assert abs(offset) < 60_000, offset
    assert 'venue_position' in report
    if orders:
        assert [o.state for o in orders] == ['FILLED', 'FILLED'], orders
        assert position == Decimal(0)
