/** My account (#/account), for every logged-in user: see web/access/account.ts. */
export { default } from '../access/account';
