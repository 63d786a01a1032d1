// The demo `/rpc` API through the real kkrpc client's types, with superjson: a Date is a Date.
import { RPCChannel, type IoInterface } from "kkrpc";
import type { RpcApi } from "../../web/api";

declare const io: IoInterface;
const api = new RPCChannel<object, RpcApi>(io).getAPI();

export async function calls(): Promise<void> {
  const sum: number = await api.add(1, 2);
  const product: number = await api.math.multiply(4, 6);
  const greeting: string = await api.greet("ann");
  const now: Date = await api.now();
  const done: string = await api.withCallback(3, (i) => {
    const n: number = i;
    console.log(n);
  });
  const counter: unknown = await api.counter;
  const echoed: unknown = await api.echo(new Map([[1, new Set([2n])]]));
  console.log(sum, product, greeting, now.getTime(), done, counter, echoed);

  // @ts-expect-error: a wrong argument type
  await api.add("1", 2);
  // @ts-expect-error: too few arguments
  await api.math.multiply(4);
  // @ts-expect-error: an unknown method
  await api.subtract(1, 2);
  // @ts-expect-error: an unknown method in a namespace
  await api.math.divide(4, 2);
  // @ts-expect-error: a result used as the wrong type
  const wrong: string = await api.add(1, 2);
  // @ts-expect-error: through superjson a Date field is a Date, not a string
  const iso: string = await api.now();
  // @ts-expect-error: a callback that takes the wrong type
  await api.withCallback(3, (i: string) => console.log(i));
  // @ts-expect-error: a result is a promise, not the value
  const notAwaited: number = api.add(1, 2);
  console.log(wrong, iso, notAwaited);
}
