import type { Catalogue } from '.';
import { en } from './en';

export const ja: Catalogue = { ...en };
