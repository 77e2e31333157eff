/**
 * The runtime's one socket read loop: every message is decoded by its direction's decoder (wire*.ts)
 * and handed on typed; one that does not decode is dropped (and reported to `onRejected`, e.g. for a
 * counter), so a peer's bad message never stops a loop. The loop ends when the socket closes.
 */

export type Decoder<T> = (frames: readonly Buffer[]) => T;

/**
 * A zeromq socket as the loop reads it: `receive()` straight, not the socket's async iterator (which
 * wraps every message in two more promises); it rejects once the socket is closed.
 */
export interface Receiver {
  receive(): Promise<Buffer[]>;
}

/** Decodes a message, or reports why not and gives undefined. */
export function decodeOrDrop<T>(
  decode: Decoder<T>,
  frames: readonly Buffer[],
  onRejected?: (error: unknown) => void,
): T | undefined {
  try {
    return decode(frames);
  } catch (error) {
    onRejected?.(error);
    return undefined;
  }
}

/** Reads a socket whose messages are `[header, ...payload]` (a DEALER, PULL, SUB…). */
export async function readMessages<T>(
  socket: Receiver,
  decode: Decoder<T>,
  handle: (message: T) => void | Promise<void>,
  onRejected?: (error: unknown) => void,
): Promise<void> {
  try {
    for (;;) {
      const frames = await socket.receive();
      const message = decodeOrDrop(decode, frames, onRejected);
      if (message === undefined) continue;
      const pending = handle(message);
      if (pending) await pending;
    }
  } catch {
    // the socket closed
  }
}

/** Reads a ROUTER: each message is `[routing id, header, ...payload]`; the routing id comes with it. */
export async function readRoutedMessages<T>(
  socket: Receiver,
  decode: Decoder<T>,
  handle: (message: T, route: Buffer) => void,
  onRejected?: (error: unknown) => void,
): Promise<void> {
  try {
    for (;;) {
      const frames = await socket.receive();
      const route = frames[0];
      if (!route) continue;
      const message = decodeOrDrop(decode, frames.slice(1), onRejected);
      if (message !== undefined) handle(message, route);
    }
  } catch {
    // the socket closed
  }
}
