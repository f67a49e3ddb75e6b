import type { Catalogue } from '.';
import { en } from './en';

export const ko: Catalogue = { ...en };
