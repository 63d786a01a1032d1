// The chat room API, and the API a chat client exposes to the server.
import type { ChatApi, ChatApiJson, ChatClientApi } from "../../web/api";

declare const chat: ChatApi;
declare const chatJson: ChatApiJson;

export const exposed: ChatClientApi = {
  message(msg) {
    const at: Date = msg.at;
    const system: boolean = msg.system;
    console.log(msg.user, msg.text, at, system);
  },
};

export async function calls(): Promise<void> {
  const sent = await chat.send("hi");
  const at: Date = sent.at;
  const history = await chat.history();
  const first: string | undefined = history[0]?.text;
  const members: string[] = await chat.members();
  const jsonAt: string = (await chatJson.send("hi")).at;
  console.log(at, first, members, jsonAt);

  // @ts-expect-error: a wrong argument type
  await chat.send(42);
  // @ts-expect-error: an unknown method
  await chat.kick("ann");
  // @ts-expect-error: a result used as the wrong type
  const count: number = await chat.members();
  // @ts-expect-error: through plain JSON `at` is a string
  const jsonDate: Date = (await chatJson.send("hi")).at;
  console.log(count, jsonDate);
}

export const wrongClient: ChatClientApi = {
  // @ts-expect-error: the server sends a message object, not a string
  message(msg: string) {
    console.log(msg);
  },
};
