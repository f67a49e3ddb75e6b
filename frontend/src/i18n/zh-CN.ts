import type { Catalogue } from '.';
import { en } from './en';

export const zhCN: Catalogue = { ...en };
