// The dashboard imports the worker's route types (AppType), so tsc reads the worker's code here
// under the browser's lib. The one Workers-only API that code uses, declared for that reading:
interface SubtleCrypto {
  timingSafeEqual(a: ArrayBuffer | ArrayBufferView, b: ArrayBuffer | ArrayBufferView): boolean;
}
