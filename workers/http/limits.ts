import { bodyLimit } from "hono/body-limit";
import { ApiError } from "./errors";

/** Refuse bodies over `maxBytes` with a 413 before reading them whole. */
export function limitBody(maxBytes: number) {
  return bodyLimit({
    maxSize: maxBytes,
    onError: () => {
      throw new ApiError(413, "body_too_large", `request body is over the limit of ${maxBytes} bytes`);
    },
  });
}
