import type { Catalogue } from '.';
import { en } from './en';

export const es: Catalogue = { ...en };
