// Must NOT compile: a number is not a slice.
import { stackSlices } from 'stackbridge';

await stackSlices([42], 'numpy');
