-- Cashiers whose void rate is more than 3 standard deviations above their store's.
--
-- A store's void rate p = voided lines / all lines keyed, over all its cashiers. A cashier who
-- keyed n lines would, by chance, void n·p of them, give or take sqrt(n·p·(1-p)) (the binomial
-- standard deviation). `sigmas` says how far above that the cashier is. Comparing with the
-- spread *between* cashiers instead does not work in small stores: with four cashiers no one
-- can ever be 3σ above the others.
WITH
    per_cashier AS (
        SELECT store, cashier_name, sum(voids) AS n_voids, sum(positions) + sum(voids) AS n_lines
        FROM posguard.cashier_day
        WHERE day BETWEEN '2026-11-23' AND '2026-11-26'
        GROUP BY store, cashier_name
    ),
    per_store AS (
        SELECT store, sum(n_voids) / sum(n_lines) AS p FROM per_cashier GROUP BY store
    )
SELECT
    c.store,
    c.cashier_name,
    c.n_lines AS lines,
    c.n_voids AS voids,
    round(100 * c.n_voids / c.n_lines, 2) AS void_pct,
    round(100 * s.p, 2) AS store_void_pct,
    round((c.n_voids - c.n_lines * s.p) / sqrt(c.n_lines * s.p * (1 - s.p)), 1) AS sigmas
FROM per_cashier AS c
INNER JOIN per_store AS s USING (store)
WHERE c.n_lines >= 50 AND sigmas > 3
ORDER BY sigmas DESC
