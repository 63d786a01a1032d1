// The demo `/rpc` API through plain JSON: a Date arrives as its ISO string.
import type { RpcApiJson } from "../../web/api";

declare const api: RpcApiJson;

export async function calls(): Promise<void> {
  const now: string = await api.now();
  const sum: number = await api.add(1, 2);
  console.log(new Date(now), sum);

  // @ts-expect-error: through plain JSON a Date is a string, not a Date
  const date: Date = await api.now();
  // @ts-expect-error: a wrong argument type
  await api.greet(42);
  // @ts-expect-error: an unknown method
  await api.nope();
  console.log(date);
}
