import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ConfigError, DEFAULT_CONFIG, parseHostPort, parseNodeConfig } from '../../../packages/node/src/config.ts';

function errorOf(input: unknown): string | undefined {
  try {
    parseNodeConfig(input);
    return undefined;
  } catch (error) {
    assert.instance(error, ConfigError);
    return (error as Error).message;
  }
}

test('a minimal config gets every default; nested fields overlay one by one', () => {
  const config = parseNodeConfig({ moniker: 'dealer-1', rpc: { listen: '0.0.0.0:9000' }, consensus: { tickMs: 50 } });
  assert.is(config.rpc.listen, '0.0.0.0:9000');
  assert.is(config.rpc.maxBodyBytes, DEFAULT_CONFIG.rpc.maxBodyBytes);
  assert.is(config.consensus.tickMs, 50);
  assert.is(config.consensus.timeoutBaseTicks, DEFAULT_CONFIG.consensus.timeoutBaseTicks);
  assert.equal(config.p2p.peers, []);
});

test('a parsed config is its own: changing one changes neither the defaults nor the next one parsed', () => {
  const first = parseNodeConfig({ moniker: 'dealer-1' });
  first.consensus.tickMs = 7;
  first.p2p.peers.push('/ip4/127.0.0.1/tcp/1');
  const second = parseNodeConfig({ moniker: 'dealer-2' });
  assert.is(second.consensus.tickMs, 100);
  assert.equal(second.p2p.peers, []);
  assert.is(DEFAULT_CONFIG.consensus.tickMs, 100);
  assert.equal(DEFAULT_CONFIG.p2p.peers, []);
});

test('mistakes are refused with a message naming the field, never silently defaulted', () => {
  assert.match(errorOf({ moniker: 'x', rpc: { listn: '1' } }) ?? '', /unknown config field rpc\.listn/);
  assert.match(
    errorOf({ moniker: 'x', consensus: { tickMs: '100' } }) ?? '',
    /consensus\.tickMs must be a non-negative integer/,
  );
  assert.match(errorOf({ moniker: 'x', consensus: { tickMs: 1 } }) ?? '', /tickMs must be at least 10/);
  assert.match(
    errorOf({ moniker: 'x', consensus: { emptyBlockIntervalMs: 500, minBlockIntervalMs: 600 } }) ?? '',
    /minBlockIntervalMs must be at most consensus\.emptyBlockIntervalMs/,
  );
  assert.match(
    errorOf({ moniker: 'x', consensus: { tickMs: 100, timeoutBaseTicks: 5, minBlockIntervalMs: 500 } }) ?? '',
    /minBlockIntervalMs must be shorter than the view timeout/,
  );
  // A config from before the setting, with a short empty-block interval, still loads.
  const older = parseNodeConfig({ moniker: 'x', consensus: { emptyBlockIntervalMs: 20 } });
  assert.is(older.consensus.minBlockIntervalMs, 20);
  assert.is(parseNodeConfig({ moniker: 'x' }).consensus.minBlockIntervalMs, 50);
  assert.match(errorOf({ moniker: 'x', p2p: { peers: 'one' } }) ?? '', /p2p\.peers must be an array/);
  assert.match(errorOf({ moniker: 'x', p2p: { peers: [1] } }) ?? '', /p2p\.peers must hold strings/);
  assert.match(errorOf({ moniker: 'x', rpc: { tokens: [{ token: 'short', scope: 'read' }] } }) ?? '', /tokens/);
  assert.match(errorOf({ moniker: 'x', rpc: { tokens: [{ token: 'x'.repeat(20), scope: 'admin' }] } }) ?? '', /tokens/);
  assert.match(errorOf({ moniker: 'x', log: { level: 'loud' } }) ?? '', /log\.level/);
  assert.match(errorOf({ moniker: 'x', rpc: { listen: 'localhost' } }) ?? '', /rpc\.listen must be host:port/);
  assert.match(errorOf({ moniker: 'a b' }) ?? '', /moniker/);
  assert.match(errorOf([]) ?? '', /object/);
  assert.match(errorOf({ moniker: 'x', block: { maxTxs: 1_000_000 } }) ?? '', /block\.maxTxs must be from 1 to/);
  assert.match(errorOf({ moniker: 'x', block: { maxBytes: 1024 * 1024 * 1024 } }) ?? '', /block\.maxBytes/);
  assert.match(errorOf({ moniker: 'x', p2p: { maxFrameBytes: 1024 } }) ?? '', /maxFrameBytes/);
});

test('host:port parsing accepts IPv4, names and bracketed IPv6', () => {
  assert.equal(parseHostPort('127.0.0.1:26657', 'x'), { host: '127.0.0.1', port: 26657 });
  assert.equal(parseHostPort('[::1]:80', 'x'), { host: '::1', port: 80 });
  assert.throws(() => parseHostPort('host:70000', 'x'));
});

test.run();
