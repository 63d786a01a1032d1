// The tRPC contract router through the real @trpc/client 11.25.2 types, with superjson.
import { createTRPCClient, httpBatchLink } from "@trpc/client";
import superjson from "superjson";
import type { AppRouter } from "../../web/api";

const trpc = createTRPCClient<AppRouter>({
  links: [httpBatchLink({ url: "http://127.0.0.1:3000/trpc", transformer: superjson })],
});

export async function calls(): Promise<void> {
  const hello: string = await trpc.greet.query("ann");
  const sum: number = await trpc.math.add.query({ a: 1, b: 2 });
  const sample = await trpc.sample.query();
  const date: Date = sample.date;
  const big: bigint = sample.big;
  const inner: Set<bigint> | number | undefined = sample.map.get("two");
  const counted: number = await trpc.counter.inc.mutate({ by: 2 });
  const countedByOne: number = await trpc.counter.inc.mutate();
  const kind: string = await trpc.typeOf.query(new Date());
  const params: Record<string, string> | null = await trpc.whoami.query();
  const echoed: unknown = await trpc.echoMutation.mutate(new Map([[1n, undefined]]));
  const ticks = trpc.ticks.subscribe(
    { n: 3 },
    {
      onData(i) {
        const n: number = i;
        console.log(n);
      },
    },
  );
  ticks.unsubscribe();
  trpc.tracked.subscribe(
    { n: 3, lastEventId: "1" },
    {
      onData(event) {
        const id: string = event.id;
        const at: Date = event.data.at;
        const amount: bigint = event.data.big;
        console.log(id, at, amount);
      },
    },
  );
  console.log(hello, sum, date, big, inner, counted, countedByOne, kind, params, echoed);

  // @ts-expect-error: a wrong input type
  await trpc.math.add.query({ a: "x", b: 2 });
  // @ts-expect-error: a missing input field
  await trpc.math.add.query({ a: 1 });
  // @ts-expect-error: an unknown procedure
  await trpc.math.subtract.query({ a: 1, b: 2 });
  // @ts-expect-error: a query called as a mutation
  await trpc.greet.mutate("ann");
  // @ts-expect-error: a mutation called as a query
  await trpc.counter.inc.query();
  // @ts-expect-error: a subscription called as a query
  await trpc.ticks.query({ n: 3 });
  // @ts-expect-error: a result used as the wrong type
  const text: string = await trpc.math.add.query({ a: 1, b: 2 });
  // @ts-expect-error: through superjson a Date is a Date, not a string
  const iso: string = (await trpc.sample.query()).date;
  // @ts-expect-error: typeOf answers one of its kinds only
  const notAKind: "function" = await trpc.typeOf.query(1);
  console.log(text, iso, notAKind);
}

// The router declares the superjson transformer: a link without it does not type-check.
createTRPCClient<AppRouter>({
  // @ts-expect-error: `transformer` is required
  links: [httpBatchLink({ url: "http://127.0.0.1:3000/trpc" })],
});
