// The demo `/rpc` API through MessagePack (@msgpack/msgpack with js/msgpack-extensions.mjs):
// a Date is a Date (the timestamp extension).
import type { RpcApiMsgpack } from "../../web/api";

declare const api: RpcApiMsgpack;

export async function calls(): Promise<void> {
  const now: Date = await api.now();
  const product: number = await api.math.multiply(2, 3);
  console.log(now.toISOString(), product);

  // @ts-expect-error: through MessagePack a Date is a Date, not a string
  const iso: string = await api.now();
  // @ts-expect-error: a wrong argument type
  await api.math.multiply(2, "3");
  // @ts-expect-error: an unknown method
  await api.math.power(2, 3);
  console.log(iso);
}
