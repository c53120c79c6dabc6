// Unit tests of sock8.js under Node's test runner (`node --test`), run by tests/browser/test_node.py.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { test } from "node:test";

import * as sock8 from "../../../python/sock8/static/sock8.js";

const { applyPresence, backoffDelay, channelId, ChannelError, closePolicy, Sock8Error } = sock8;
const root = new URL("../../../", import.meta.url);
const vectors = JSON.parse(readFileSync(new URL("tests/vectors/channels.json", root), "utf8"));
const adversarial = JSON.parse(readFileSync(new URL("tests/vectors/adversarial.json", root), "utf8"));

test("channelId renders every shared vector as the core does", () => {
  assert.ok(vectors.render.length >= 10);
  for (const { template, values, id, error } of vectors.render) {
    if (error) assert.throws(() => channelId(template, values), ChannelError, template);
    else assert.equal(channelId(template, values), id, template);
  }
});

test("channelId accepts and refuses the templates of the shared vectors", () => {
  for (const { template, params, error } of vectors.templates) {
    const names = params ?? [...template.matchAll(/\{([^{}.]*)\}/g)].map((m) => m[1]);
    const values = Object.fromEntries(names.map((name) => [name, "v"]));
    if (error) assert.throws(() => channelId(template, values), ChannelError, template);
    else assert.equal(channelId(template, values), template.replace(/\{(\w+)\}/g, "v##$1"));
  }
  for (const entry of adversarial.templates) {
    if (entry.expect === "ok") assert.equal(channelId(entry.template, entry.values), entry.id, entry.name);
    else assert.throws(() => channelId(entry.template, entry.values), ChannelError, entry.name);
  }
});

test("channelId renders the accepted ids of the adversarial corpus", () => {
  const accepted = adversarial.channels.filter((entry) => entry.expect === "ok" && entry.template);
  assert.ok(accepted.length > 0);
  for (const entry of accepted) assert.equal(channelId(entry.template, entry.values), entry.id, entry.name);
});

test("channelId takes strings and safe integers only, and its errors are typed", () => {
  assert.equal(channelId("user.{id}", { id: -5 }), "user.-5##id");
  assert.equal(channelId("user.{id}", { id: 12345678901234567890n }), "user.12345678901234567890##id");
  for (const bad of [1.5, 2 ** 53, true, null, undefined, {}, "", "\uD800"]) {
    assert.throws(() => channelId("user.{id}", { id: bad }), ChannelError, String(bad));
  }
  try {
    channelId("user.{id}", {});
    assert.fail("no error");
  } catch (error) {
    assert.ok(error instanceof ChannelError && error instanceof Sock8Error);
    assert.equal(error.code, "invalid_channel");
    assert.equal(error.segment, "id");
  }
});

test("backoff: full jitter under a ceiling that doubles from 0.5 s to a 20 s cap", () => {
  assert.equal(backoffDelay(0, {}, () => 0), 0);
  assert.equal(backoffDelay(0, {}, () => 0.5), 0.25);
  const ceilings = [0, 1, 2, 3, 5, 6, 100, 5000].map((attempt) => backoffDelay(attempt, {}, () => 1));
  assert.deepEqual(ceilings, [0.5, 1, 2, 4, 16, 20, 20, 20]);
  const delays = Array.from({ length: 2000 }, () => backoffDelay(10));
  assert.ok(delays.every((delay) => delay >= 0 && delay < 20));
  // Jitter spreads the delays over the whole range rather than bunching them.
  assert.ok(delays.some((delay) => delay < 5) && delays.some((delay) => delay > 15));
  assert.equal(backoffDelay(3, { base: 1, cap: 3 }, () => 1), 3);
});

test("close codes: 4001 fetches a token once, 4400 and 4003 stop, the rest reconnect", () => {
  assert.equal(closePolicy(4001), "token");
  assert.equal(closePolicy(4400), "stop");
  assert.equal(closePolicy(4003), "stop");
  for (const code of [1000, 1001, 1006, 1011, 1012, 4008]) assert.equal(closePolicy(code), "reconnect");
});

test("presence: state replaces, updates and removals apply together, whole entries", () => {
  const members = new Map();
  applyPresence(members, {
    event: "presenceState",
    channel: "c",
    state: { alice: { isConnected: true, lastSeen: 1, data: { typing: false } } },
  });
  assert.deepEqual([...members.keys()], ["alice"]);
  applyPresence(members, {
    event: "presenceUpdate",
    channel: "c",
    updates: { bob: { isConnected: true, lastSeen: 2, data: { typing: true } } },
    removals: ["alice"],
  });
  assert.deepEqual([...members.keys()], ["bob"]);
  assert.equal(members.get("bob").data.typing, true);
  assert.equal(members.get("bob").lastSeen, 2);
  applyPresence(members, { event: "presenceState", channel: "c", state: {} });
  assert.equal(members.size, 0);
});

test("presence data is merged as own properties: __proto__ pollutes nothing", () => {
  const frame = JSON.parse(
    '{"event":"presenceUpdate","channel":"c","updates":{"__proto__":{"lastSeen":1,"data":{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}},"ok":1}}},"removals":[]}',
  );
  const members = applyPresence(new Map(), frame);
  const entry = members.get("__proto__");
  assert.ok(entry, "the identity __proto__ is a member like any other");
  assert.equal(entry.data.ok, 1);
  assert.deepEqual(entry.data.__proto__, { polluted: true }); // an own property, not a prototype
  assert.equal(Object.getPrototypeOf(entry.data), null);
  assert.equal(({}).polluted, undefined);
  assert.equal(Object.prototype.polluted, undefined);
});

test("sock8.d.ts declares exactly the module's exports", () => {
  const dts = readFileSync(new URL("python/sock8/static/sock8.d.ts", root), "utf8");
  const declared = new Set(
    [...dts.matchAll(/^export (?:declare )?(?:class|function|const) (\w+)/gm)].map((m) => m[1]),
  );
  assert.deepEqual([...declared].sort(), Object.keys(sock8).sort());
});

test("a 401 from the auth route closes the client for good, with a typed error", async (t) => {
  assert.throws(() => new sock8.Sock8Client({}), TypeError);
  const requests = [];
  const server = createServer((request, response) => {
    requests.push(`${request.method} ${request.url}`);
    response.writeHead(401, { "content-type": "application/json" }).end('{"error":"unauthorized"}');
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(() => server.close());
  const base = `http://127.0.0.1:${server.address().port}/api/channels`;
  const client = new sock8.Sock8Client({ authUrl: base + "/", networkEventTarget: null });
  assert.equal(client.authUrl, base);
  const states = [];
  client.on("state", (state) => states.push(state));
  await assert.rejects(client.connect(), (error) => error instanceof sock8.Unauthorized && error.status === 401);
  assert.deepEqual(states, ["connecting", "closed"]);
  assert.equal(client.error.code, "unauthorized");
  await assert.rejects(client.connect(), sock8.Unauthorized);
  assert.deepEqual(requests, ["POST /api/channels/authenticate"]); // no retry
});

test("a resume the gateway never answers is given up after the request timeout, with a reset", async () => {
  // Time, sockets and the auth route are the test's: nothing waits for real.
  let now = 1_800_000_000_000;
  const timers = new Set();
  const clock = {
    now: () => now,
    setTimeout: (callback, ms) => {
      const timer = { callback, at: now + ms };
      timers.add(timer);
      return timer;
    },
    clearTimeout: (timer) => timers.delete(timer),
  };
  const settle = async () => {
    for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
  };
  const advance = async (ms) => {
    now += ms;
    for (const timer of [...timers].sort((a, b) => a.at - b.at)) {
      if (timer.at <= now && timers.delete(timer)) timer.callback();
    }
    await settle();
  };
  const sockets = [];
  class FakeSocket {
    constructor(url) {
      this.url = url;
      this.sent = [];
      sockets.push(this);
    }
    send(text) {
      this.sent.push(JSON.parse(text));
    }
    close() {
      this.onclose?.({ code: 1000, reason: "" });
    }
    receive(frame) {
      this.onmessage({ data: JSON.stringify(frame) });
    }
  }
  const fetch = async () =>
    new Response(
      JSON.stringify({ token: "t", endpoint: "ws://gateway/connect", identity: "alice", channels: ["c"], expiresAt: now / 1000 + 600 }),
      { status: 200, headers: { "content-type": "application/json" } },
    );
  const client = new sock8.Sock8Client({
    authUrl: "http://app/api/channels",
    clock,
    random: () => 0,
    fetch,
    WebSocket: /** @type {any} */ (FakeSocket),
    networkEventTarget: null,
    requestTimeout: 10,
  });
  const welcome = (offset) => ({ event: "welcome", identity: "alice", channels: ["c"], expiresAt: now / 1000 + 600, positions: { c: { offset, epoch: "e" } } });
  const connected = client.connect();
  await settle();
  sockets[0].onopen();
  sockets[0].receive(welcome(0));
  await connected;
  const room = client.channel("c");
  const got = [];
  const resets = [];
  room.on("message", (payload) => got.push(payload));
  room.on("reset", (reset) => resets.push(reset));
  sockets[0].receive({ channel: "c", payload: 1, offset: 1, epoch: "e" });
  sockets[0].onclose({ code: 1012, reason: "" });
  await settle();
  await advance(0);
  assert.equal(sockets.length, 2);
  sockets[1].onopen();
  sockets[1].receive(welcome(3));
  assert.deepEqual(sockets[1].sent.find((frame) => frame.event === "subscribe"), {
    event: "subscribe",
    channel: "c",
    since: { offset: 1, epoch: "e" },
  });
  // No answer to the resume: live messages wait for it, until the request timeout.
  sockets[1].receive({ channel: "c", payload: 4, offset: 4, epoch: "e" });
  await advance(9_999);
  assert.deepEqual(resets, []);
  await advance(1);
  assert.deepEqual(resets, [{ channel: "c", offset: 1, epoch: "e" }]);
  sockets[1].receive({ channel: "c", payload: 5, offset: 5, epoch: "e" });
  assert.deepEqual(got, [1, 5]);
  client.close();
});
