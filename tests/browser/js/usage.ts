// Type-checked with `tsc --noEmit --strict` (make lint): the README's usage against sock8.d.ts.
import {
  AuthError,
  Channel,
  channelId,
  Forbidden,
  Member,
  Sock8Client,
  Sock8Error,
  State,
} from "../../../python/sock8/static/sock8.js";

export async function usage(): Promise<string[]> {
  const client = new Sock8Client({ authUrl: "/api/channels", fetchOptions: { credentials: "same-origin" } });
  const seen: string[] = [];
  const off = client.on("state", (state: State, info) => seen.push(`${state} ${info.retryIn ?? ""}`));
  client.on("error", (error: Sock8Error) => seen.push(error.code));
  await client.connect();
  const room: Channel = client.channel(channelId("chat.{roomId}.messages", { roomId: "lobby" }));
  room.on("message", (payload, meta) => seen.push(`${meta.channel} ${JSON.stringify(payload)}`));
  room.on("presence", (members: Map<string, Member>) => {
    for (const [identity, entry] of members) seen.push(`${identity} ${entry.data.typing === true}`);
  });
  await room.presence.set({ typing: true });
  const members = await room.presence.get();
  const page = await room.history({ limit: 50 });
  if (page.nextCursor !== null) await room.history({ cursor: page.nextCursor });
  seen.push(String(members.size), String(page.messages[0]?.timestamp));
  await room.unsubscribe();
  await room.subscribe();
  try {
    await client.channel("admin.logs").history();
  } catch (error) {
    if (error instanceof Forbidden || error instanceof AuthError) seen.push(error.code);
  }
  off();
  client.close();
  return seen;
}
