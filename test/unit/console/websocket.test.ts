import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { HttpError } from '../../../node-cgi/lib/errors';
import {
  CLOSE_CODE,
  FrameDecoder,
  OPCODE,
  WsProtocolError,
  acceptKey,
  closePayload,
  encodeFrame,
  frameHeader,
  parseUpgrade,
  sameOrigin,
  switchingProtocolsHead,
  validCloseCode,
  type WsEvent,
} from '../../../node-cgi/console/websocket';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
/** RFC 6455 §5.7's masking key. */
const MASK = hex('37fa213d');

const A = suite('acceptKey');
A('should answer the example of RFC 6455 §1.3', () => {
  assert.is(acceptKey('dGhlIHNhbXBsZSBub25jZQ=='), 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
});
A.run();

const E = suite('encodeFrame');
// The examples of RFC 6455 §5.7, byte for byte.
E('should encode an unmasked single-frame text message', () => {
  assert.equal(encodeFrame(OPCODE.TEXT, Buffer.from('Hello')), hex('81 05 48656c6c6f'));
});
E('should encode a masked single-frame text message', () => {
  assert.equal(encodeFrame(OPCODE.TEXT, Buffer.from('Hello'), { mask: MASK }), hex('81 85 37fa213d 7f9f4d5158'));
});
E('should encode the two fragments of an unmasked text message', () => {
  assert.equal(encodeFrame(OPCODE.TEXT, Buffer.from('Hel'), { fin: false }), hex('01 03 48656c'));
  assert.equal(encodeFrame(OPCODE.CONTINUATION, Buffer.from('lo')), hex('80 02 6c6f'));
});
E('should encode an unmasked ping and a masked pong', () => {
  assert.equal(encodeFrame(OPCODE.PING, Buffer.from('Hello')), hex('89 05 48656c6c6f'));
  assert.equal(encodeFrame(OPCODE.PONG, Buffer.from('Hello'), { mask: MASK }), hex('8a 85 37fa213d 7f9f4d5158'));
});
E('should use a 16-bit length for 256 bytes', () => {
  const f = encodeFrame(OPCODE.BINARY, Buffer.alloc(256, 7));
  assert.equal(f.subarray(0, 4), hex('82 7e 0100'));
  assert.is(f.length, 4 + 256);
});
E('should use a 64-bit length for 64 KiB', () => {
  const f = encodeFrame(OPCODE.BINARY, Buffer.alloc(65536, 7));
  assert.equal(f.subarray(0, 10), hex('82 7f 0000000000010000'));
  assert.is(f.length, 10 + 65536);
});
E('should switch length forms exactly at 126 and 65536', () => {
  assert.equal(frameHeader(OPCODE.BINARY, 125), hex('82 7d'));
  assert.equal(frameHeader(OPCODE.BINARY, 126), hex('82 7e 007e'));
  assert.equal(frameHeader(OPCODE.BINARY, 65535), hex('82 7e ffff'));
  assert.equal(frameHeader(OPCODE.BINARY, 65536), hex('82 7f 0000000000010000'));
});
E('should not change the caller\'s payload when masking', () => {
  const p = Buffer.from('Hello');
  encodeFrame(OPCODE.BINARY, p, { mask: MASK });
  assert.is(p.toString(), 'Hello');
});
E.run();

const C = suite('closePayload');
C('should put the code big-endian before the reason', () => {
  assert.equal(closePayload(1000, 'bye'), hex('03e8 627965'));
  assert.equal(closePayload(1002), hex('03ea'));
});
C('should cut a long reason to 123 bytes on a character boundary', () => {
  const p = closePayload(1000, 'é'.repeat(100)); // 200 bytes of UTF-8
  assert.is(p.length, 2 + 122);
  assert.is(p.subarray(2).toString('utf8'), 'é'.repeat(61));
});
C.run();

const V = suite('validCloseCode');
for (const [code, ok, why] of [
  [1000, true, 'normal'],
  [1001, true, 'going away'],
  [1011, true, 'internal error'],
  [4000, true, 'private use'],
  [999, false, 'below the range'],
  [1004, false, 'reserved'],
  [1005, false, 'no status: never on the wire'],
  [1006, false, 'abnormal: never on the wire'],
  [1015, false, 'TLS failure: never on the wire'],
  [2000, false, 'reserved for extensions'],
  [5000, false, 'above the range'],
] as const) {
  V(`should ${ok ? 'accept' : 'reject'} ${code} (${why})`, () => assert.is(validCloseCode(code), ok));
}
V.run();

/** A client frame: masked with RFC 6455's example key. */
const cf = (opcode: number, payload: Buffer | string, fin = true) =>
  encodeFrame(opcode, Buffer.from(payload), { fin, mask: MASK });

const D = suite('FrameDecoder');
D('should decode the masked "Hello" of RFC 6455 §5.7', () => {
  const d = new FrameDecoder({ masked: true });
  assert.equal(d.push(hex('81 85 37fa213d 7f9f4d5158')), [{ type: 'message', binary: false, data: Buffer.from('Hello') }]);
});
D('should reassemble fragments with a ping between them', () => {
  const d = new FrameDecoder({ masked: true });
  const bytes = Buffer.concat([
    cf(OPCODE.BINARY, 'RFB ', false),
    cf(OPCODE.PING, 'p1'),
    cf(OPCODE.CONTINUATION, '003.', false),
    cf(OPCODE.CONTINUATION, '008\n'),
  ]);
  assert.equal(d.push(bytes), [
    { type: 'ping', data: Buffer.from('p1') },
    { type: 'message', binary: true, data: Buffer.from('RFB 003.008\n') },
  ]);
});
D('should give the same events when fed one byte at a time', () => {
  const bytes = Buffer.concat([cf(OPCODE.BINARY, 'ab', false), cf(OPCODE.PONG, ''), cf(OPCODE.CONTINUATION, 'cd'), cf(OPCODE.BINARY, Buffer.alloc(300, 1))]);
  const d = new FrameDecoder({ masked: true });
  const events: WsEvent[] = [];
  for (const b of bytes) events.push(...d.push(Buffer.from([b])));
  assert.equal(events, new FrameDecoder({ masked: true }).push(bytes));
  assert.is(events.length, 3);
  assert.is(d.pending, 0);
});
D('should decode a masked frame with a 16-bit length', () => {
  const payload = Buffer.from(Array.from({ length: 300 }, (_, i) => i & 0xff));
  const f = cf(OPCODE.BINARY, payload);
  assert.equal(f.subarray(0, 4), hex('82 fe 012c'));
  assert.equal(new FrameDecoder({ masked: true }).push(f), [{ type: 'message', binary: true, data: Buffer.from(payload) }]);
});
D('should decode a masked frame with a 64-bit length', () => {
  const payload = Buffer.from(Array.from({ length: 70000 }, (_, i) => (i * 7) & 0xff));
  const f = cf(OPCODE.BINARY, payload);
  assert.equal(f.subarray(0, 10), hex('82 ff 0000000000011170'));
  const ev = new FrameDecoder({ masked: true }).push(f);
  assert.is(ev.length, 1);
  assert.ok(ev[0]!.type === 'message' && ev[0]!.data.equals(payload));
});
D('should wait for the rest of a split header and payload', () => {
  const d = new FrameDecoder({ masked: true });
  const f = cf(OPCODE.BINARY, Buffer.alloc(200, 9));
  assert.equal(d.push(f.subarray(0, 3)), []);
  assert.equal(d.push(f.subarray(3, 100)), []);
  assert.is(d.pending, 100);
  assert.is(d.push(f.subarray(100)).length, 1);
});
D('should decode a close with code and reason, then ignore what follows', () => {
  const d = new FrameDecoder({ masked: true });
  const ev = d.push(Buffer.concat([cf(OPCODE.CLOSE, closePayload(1001, 'tab closed')), cf(OPCODE.BINARY, 'late')]));
  assert.equal(ev, [{ type: 'close', code: 1001, reason: 'tab closed' }]);
  assert.equal(d.push(cf(OPCODE.BINARY, 'later')), []);
});
D('should report an empty close as code null', () => {
  assert.equal(new FrameDecoder({ masked: true }).push(cf(OPCODE.CLOSE, '')), [{ type: 'close', code: null, reason: '' }]);
});
D('should decode unmasked server frames in client mode', () => {
  assert.equal(new FrameDecoder({ masked: false }).push(hex('89 05 48656c6c6f')), [{ type: 'ping', data: Buffer.from('Hello') }]);
});
D.run();

const B = suite('FrameDecoder bad input');
const bad: [string, Buffer, number, { masked?: boolean; max?: number }?][] = [
  ['an unmasked client frame', hex('82 02 6869'), CLOSE_CODE.PROTOCOL_ERROR],
  ['a masked server frame, in client mode', cf(OPCODE.BINARY, 'hi'), CLOSE_CODE.PROTOCOL_ERROR, { masked: false }],
  ['RSV1 set without a negotiated extension', encodeFrame(OPCODE.BINARY, Buffer.from('x'), { mask: MASK, rsv: 4 }), CLOSE_CODE.PROTOCOL_ERROR],
  ['reserved data opcode 3', cf(3, 'x'), CLOSE_CODE.PROTOCOL_ERROR],
  ['reserved control opcode 0xB', cf(0xb, ''), CLOSE_CODE.PROTOCOL_ERROR],
  ['a ping of 126 bytes', cf(OPCODE.PING, Buffer.alloc(126)), CLOSE_CODE.PROTOCOL_ERROR],
  ['a fragmented ping', cf(OPCODE.PING, 'x', false), CLOSE_CODE.PROTOCOL_ERROR],
  ['a continuation with nothing to continue', cf(OPCODE.CONTINUATION, 'x'), CLOSE_CODE.PROTOCOL_ERROR],
  ['a new message inside a fragmented one', Buffer.concat([cf(OPCODE.BINARY, 'a', false), cf(OPCODE.BINARY, 'b')]), CLOSE_CODE.PROTOCOL_ERROR],
  ['a 64-bit length with its top bit set', hex('82 ff 8000000000000001 37fa213d 00'), CLOSE_CODE.PROTOCOL_ERROR],
  ['a close payload of one byte', cf(OPCODE.CLOSE, hex('03')), CLOSE_CODE.PROTOCOL_ERROR],
  ['close code 1005, which must never be sent', cf(OPCODE.CLOSE, hex('03ed')), CLOSE_CODE.PROTOCOL_ERROR],
  ['close code 999', cf(OPCODE.CLOSE, hex('03e7')), CLOSE_CODE.PROTOCOL_ERROR],
  ['close code 2000 (reserved)', cf(OPCODE.CLOSE, hex('07d0')), CLOSE_CODE.PROTOCOL_ERROR],
  ['a close reason that is not UTF-8', cf(OPCODE.CLOSE, hex('03e8 c328')), CLOSE_CODE.INVALID_PAYLOAD],
  ['a text message that is not UTF-8', cf(OPCODE.TEXT, hex('ceba e1bd b9cf 83ce bcce b5ed a080')), CLOSE_CODE.INVALID_PAYLOAD],
  ['a text message split inside a character is fine, then broken', Buffer.concat([cf(OPCODE.TEXT, hex('ce'), false), cf(OPCODE.CONTINUATION, hex('ff'))]), CLOSE_CODE.INVALID_PAYLOAD],
  ['a message over the limit', cf(OPCODE.BINARY, Buffer.alloc(101)), CLOSE_CODE.TOO_BIG, { max: 100 }],
  ['fragments adding up over the limit', Buffer.concat([cf(OPCODE.BINARY, Buffer.alloc(60), false), cf(OPCODE.CONTINUATION, Buffer.alloc(41))]), CLOSE_CODE.TOO_BIG, { max: 100 }],
  ['a 64-bit length far over the limit, before its payload arrives', hex('82 ff 0000000100000000 37fa213d'), CLOSE_CODE.TOO_BIG],
];
for (const [why, bytes, code, o] of bad) {
  B(`should close with ${code} on ${why}`, () => {
    const d = new FrameDecoder({ masked: o?.masked ?? true, ...(o?.max ? { maxMessageBytes: o.max } : {}) });
    try {
      d.push(bytes);
      assert.unreachable('no error');
    } catch (e) {
      assert.instance(e, WsProtocolError);
      assert.is((e as WsProtocolError).code, code);
    }
  });
}
B('should accept a text message whose character is split across fragments', () => {
  const d = new FrameDecoder({ masked: true });
  const ev = d.push(Buffer.concat([cf(OPCODE.TEXT, hex('ce'), false), cf(OPCODE.CONTINUATION, hex('ba'))]));
  assert.equal(ev, [{ type: 'message', binary: false, data: hex('ceba') }]);
});
B.run();

const U = suite('parseUpgrade');
const good = {
  upgrade: 'websocket',
  connection: 'keep-alive, Upgrade',
  'sec-websocket-version': '13',
  'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
};
U('should accept a browser\'s request and pick "binary" from noVNC\'s offer', () => {
  assert.equal(parseUpgrade('GET', { ...good, 'sec-websocket-protocol': 'binary, base64' }), {
    accept: 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=',
    protocol: 'binary',
  });
});
U('should choose no subprotocol when none is offered', () => {
  assert.is(parseUpgrade('GET', good).protocol, null);
});
U('should read Upgrade and Connection case-insensitively', () => {
  assert.ok(parseUpgrade('GET', { ...good, upgrade: 'WebSocket', connection: 'upgrade' }));
});
const badUpgrades: [string, string, Record<string, string>, number][] = [
  ['no Upgrade header: a plain GET', 'GET', { ...good, upgrade: '' }, 426],
  ['Upgrade to another protocol', 'GET', { ...good, upgrade: 'h2c' }, 426],
  ['not a GET', 'POST', good, 400],
  ['Connection without Upgrade', 'GET', { ...good, connection: 'keep-alive' }, 400],
  ['an old protocol version', 'GET', { ...good, 'sec-websocket-version': '8' }, 426],
  ['no key', 'GET', { ...good, 'sec-websocket-key': '' }, 400],
  ['a key that is not 16 bytes', 'GET', { ...good, 'sec-websocket-key': 'c2hvcnQ=' }, 400],
  ['a key that is not base64', 'GET', { ...good, 'sec-websocket-key': '!!!!!!!!!!!!!!!!!!!!!!==' }, 400],
  ['only subprotocols we do not speak', 'GET', { ...good, 'sec-websocket-protocol': 'base64, chat' }, 400],
];
for (const [why, method, headers, status] of badUpgrades) {
  U(`should answer ${status} to ${why}`, () => {
    try {
      parseUpgrade(method, headers);
      assert.unreachable('accepted');
    } catch (e) {
      assert.instance(e, HttpError);
      assert.is((e as HttpError).status, status);
    }
  });
}
U.run();

const H = suite('switchingProtocolsHead');
H('should write the CGI head with the subprotocol', () => {
  assert.is(
    switchingProtocolsHead({ accept: 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=', protocol: 'binary' }),
    'Status: 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: binary\r\n\r\n',
  );
});
H('should leave out the subprotocol when none was chosen', () => {
  assert.not.match(switchingProtocolsHead({ accept: 'x', protocol: null }), 'Sec-WebSocket-Protocol');
});
H.run();

const O = suite('sameOrigin');
for (const [origin, host, ok, why] of [
  ['http://127.0.0.1:8006', '127.0.0.1:8006', true, 'same host and port'],
  ['https://PVE1.example:8006', 'pve1.example:8006', true, 'host names compare case-insensitively'],
  ['https://pve1', 'pve1:443', true, 'the default port may be implicit on either side'],
  ['http://[::1]:8006', '[::1]:8006', true, 'IPv6 literal'],
  [undefined, '127.0.0.1:8006', true, 'no Origin: not a browser, so no cross-site request'],
  ['https://evil.example', 'pve1:8006', false, 'another site'],
  ['http://127.0.0.1:9000', '127.0.0.1:8006', false, 'another port is another origin'],
  ['null', '127.0.0.1:8006', false, 'an opaque origin (sandboxed frame, file:)'],
  ['file://', '127.0.0.1:8006', false, 'not http(s)'],
  ['http://127.0.0.1:8006', undefined, false, 'no Host to compare with'],
] as const) {
  O(`should ${ok ? 'accept' : 'refuse'} ${origin} for ${host} (${why})`, () => assert.is(sameOrigin(origin, host), ok));
}
O.run();
