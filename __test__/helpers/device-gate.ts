import test from 'ava';

/**
 * The serial test function of a spec that needs a device: `test.serial` when the device is there
 * or `requireVar` is set to 1 (CI: then the tests run and fail), else `test.serial.skip`, with the
 * reason printed once.
 */
export function deviceTest(spec: string, present: boolean, requireVar: string, missing: string): typeof test.serial | typeof test.serial.skip {
  const required = process.env[requireVar] === '1';
  if (!present) {
    console.log(
      required
        ? `${spec}: ${requireVar}=1 but ${missing}: these tests will fail`
        : `${spec}: skipped, ${missing} (set ${requireVar}=1 to fail instead)`,
    );
  }
  return present || required ? test.serial : test.serial.skip;
}
