"""A synthetic twin of the Kaggle Zillow files, drawn from known parameters.

Same file names, the 58 property columns with Kaggle's names, dtypes and roughly Kaggle's null
fractions, zip codes of very unequal sizes, parcels without transactions, and ``logerror`` from

    logerror = intercept + sum_k beta_k z_k + gamma (z_nl^2 - 1) + a_zip + e,
    a_zip ~ Normal(0, sigma_zip),  z_k = (x_k - mu_k) / sd_k,
    e ~ scale * StudentT(df) truncated to +-bound, scale such that sd(e) = sigma
      (Normal(0, sigma) if df is None)

where ``x_k`` are the property values written to the file (before nulls are punched into them, so
missing values are missing completely at random) and ``mu_k, sd_k`` are the moments of the
generating distributions. ``prepared_truth`` rewrites the same model on the predictors as prepared
(standardized with training statistics), exactly.

Kaggle's traits that trip a naive analysis are reproduced: ``logerror`` is heavy-tailed
(Student-t noise with 3 degrees of freedom truncated at +-4.7: sd 0.16, yet values of several
units); columns that are the same measurement (``finishedsquarefeet12`` equals
``calculatedfinishedsquarefeet`` and ``calculatedbathnbr`` equals ``bathroomcnt`` wherever both are
present; ``IDENTICAL_COLUMNS``); bathroom counts that rise with the floor area (correlation about
0.75: related but distinct predictors); and parcels sold twice in the year
(``REPEAT_SALE_FRACTION``).

Everything is determined by the seed: properties are drawn in fixed-size chunks, each from its own
stream, so the bytes written do not depend on memory or machine.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv

from bayespipe.analyses.zillow import kaggle
from bayespipe.errors import ConfigError
from bayespipe.io import atomic_path, write_json

KAGGLE_PROPERTIES = 2_985_217
KAGGLE_TRANSACTIONS = 90_275
CHUNK_ROWS = 200_000  # part of the output's definition: changing it changes the bytes
EMPTY_PARCEL_FRACTION = 0.0038  # Kaggle parcels with nothing but an id; they never sell
REPEAT_SALE_FRACTION = 0.0014  # transactions of a parcel sold twice in 2016
ZIP_SIZE_SPREAD = 1.3  # log-sd of zip sizes: a few zips are large, many small
ZIP_CODE_START = 95982  # Kaggle's zip codes sit in 95982..97344

# Streams of numpy's SeedSequence, so the split and the generator never share draws.
STREAM_GLOBAL, STREAM_CHUNK = 0, 1


@dataclass(frozen=True)
class LogNormal:
    mu: float
    sigma: float

    @property
    def mean(self) -> float:
        return math.exp(self.mu + self.sigma**2 / 2)

    @property
    def sd(self) -> float:
        return self.mean * math.sqrt(math.exp(self.sigma**2) - 1)

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return np.round(rng.lognormal(self.mu, self.sigma, n))


@dataclass(frozen=True)
class Truth:
    """The generating model of logerror (raw predictor scale, see the module docstring)."""

    intercept: float = 0.011
    betas: dict = field(
        default_factory=lambda: {
            "calculatedfinishedsquarefeet": 0.035,
            "lotsizesquarefeet": 0.025,
            "yearbuilt": -0.025,
        }
    )
    nonlinear_predictor: str = "yearbuilt"
    quadratic: float = 0.03
    sigma: float = 0.16  # sd of the noise (what a Normal likelihood's sigma estimates)
    sigma_zip: float = 0.04
    noise_df: float | None = 3.0  # Student-t degrees of freedom (> 2); None: Normal noise
    noise_bound: float = 4.7  # the t noise is truncated to +-bound (Kaggle's logerror spans +-4.7)

    def noise(self, rng: np.random.Generator, n: int) -> np.ndarray:
        if self.noise_df is None:
            return rng.normal(0.0, self.sigma, n)
        # inverse CDF of the truncated t: exact, and one uniform per draw
        from scipy.stats import t

        edge = t.cdf(self.noise_bound / self.noise_scale, self.noise_df)
        return self.noise_scale * t.ppf(rng.uniform(1 - edge, edge, n), self.noise_df)

    @functools.cached_property
    def noise_scale(self) -> float:
        """Scale of the truncated Student-t noise whose sd is sigma."""
        if self.noise_df is None:
            return self.sigma
        from scipy.optimize import brentq
        from scipy.stats import t

        def sd_minus_sigma(scale: float) -> float:
            bound = self.noise_bound / scale
            variance = t(self.noise_df).expect(
                lambda x: x**2, lb=-bound, ub=bound, conditional=True
            )
            return scale * math.sqrt(variance) - self.sigma

        return brentq(sd_minus_sigma, 1e-3 * self.sigma, self.sigma, xtol=1e-12)


FLOOR_AREA = LogNormal(7.4, 0.45)
LOTSIZE = LogNormal(8.9, 0.6)
YEAR_MEAN, YEAR_SD = 1963.0, 22.0
MOMENTS = {
    "calculatedfinishedsquarefeet": (FLOOR_AREA.mean, FLOOR_AREA.sd),
    "lotsizesquarefeet": (LOTSIZE.mean, LOTSIZE.sd),
    "yearbuilt": (YEAR_MEAN, YEAR_SD),
}
# Column -> the column it equals wherever both are present (Kaggle's duplicated measurements).
IDENTICAL_COLUMNS = {
    "finishedsquarefeet12": "calculatedfinishedsquarefeet",
    "calculatedbathnbr": "bathroomcnt",
}
BATH_VALUES = [1, 1.5, 2, 2.5, 3, 3.5, 4, 5]
BATH_WEIGHTS = [20, 5, 40, 8, 17, 3, 5, 2]
BATH_SQFT_LATENT_CORRELATION = 0.8  # gives about 0.75 between bathroomcnt and the floor area


def sizes(settings: dict) -> tuple[int, int]:
    """(properties, transactions) for ``zillow.scale``; checks that every sale can find a parcel."""
    if settings.get("scale") == "kaggle":
        return KAGGLE_PROPERTIES, KAGGLE_TRANSACTIONS
    n_properties, n_transactions = settings["n_properties"], settings["n_transactions"]
    if n_transactions > 0.9 * n_properties:
        raise ConfigError(
            f"zillow.n_transactions: {n_transactions} is more than 90% of zillow.n_properties "
            f"({n_properties}); synthetic sales need parcels to choose from"
        )
    return n_properties, n_transactions


@dataclass
class Zips:
    codes: np.ndarray
    weights: np.ndarray
    fips: np.ndarray
    city: np.ndarray
    latitude: np.ndarray
    longitude: np.ndarray
    effects: np.ndarray


COUNTIES = {
    6037: (3101, 34.05e6, -118.25e6),
    6059: (1286, 33.70e6, -117.80e6),
    6111: (2061, 34.30e6, -119.05e6),
}


def draw_zips(rng: np.random.Generator, n_zips: int, sigma_zip: float) -> Zips:
    pool = np.arange(ZIP_CODE_START, ZIP_CODE_START + max(1363, 3 * n_zips))
    codes = np.sort(rng.choice(pool, n_zips, replace=False))
    weights = rng.lognormal(0.0, ZIP_SIZE_SPREAD, n_zips)
    fips = rng.choice(list(COUNTIES), n_zips, p=[0.65, 0.27, 0.08])
    centres = np.array([COUNTIES[f][1:] for f in fips])
    return Zips(
        codes=codes,
        weights=weights / weights.sum(),
        fips=fips,
        city=np.array([COUNTIES[f][0] * 10 + rng.integers(0, 60) for f in fips]) + 10000,
        latitude=centres[:, 0] + rng.normal(0, 0.15e6, n_zips),
        longitude=centres[:, 1] + rng.normal(0, 0.15e6, n_zips),
        effects=rng.normal(0.0, sigma_zip, n_zips),
    )


def _pick(values, p=None):
    p = None if p is None else np.asarray(p, float) / np.sum(p)
    return lambda rng, n, cols: rng.choice(np.asarray(values), n, p=p)


def _const(value):
    return lambda rng, n, cols: np.full(n, value, dtype=object if isinstance(value, str) else float)


def _lognormal(mu, sigma):
    return lambda rng, n, cols: LogNormal(mu, sigma).draw(rng, n)


def _year(rng, n, cols):
    return np.clip(np.round(rng.normal(YEAR_MEAN, YEAR_SD, n)), 1885, 2015)


def _tract(rng, n, cols):
    return np.round(
        cols["fips"] * 1e4 + rng.integers(1000, 9999, n) + rng.integers(0, 999, n) / 1e3, 3
    )


def _bathrooms(rng, n, cols):
    """Kaggle's bathroom counts, rising with the floor area: a Gaussian copula on log floor area."""
    from scipy.stats import norm

    z_area = (np.log(cols["calculatedfinishedsquarefeet"]) - FLOOR_AREA.mu) / FLOOR_AREA.sigma
    rho = BATH_SQFT_LATENT_CORRELATION
    latent = rho * z_area + math.sqrt(1 - rho**2) * rng.normal(size=n)
    cumulative = np.cumsum(BATH_WEIGHTS) / np.sum(BATH_WEIGHTS)
    index = np.minimum(np.searchsorted(cumulative, norm.cdf(latent)), len(BATH_VALUES) - 1)
    return np.asarray(BATH_VALUES, float)[index]


def _tax_value(rng, n, cols):
    return cols["structuretaxvaluedollarcnt"] + cols["landtaxvaluedollarcnt"]


def _tax_amount(rng, n, cols):
    return np.round(cols["taxvaluedollarcnt"] * 0.0125 * rng.lognormal(0, 0.1, n), 2)


Generator = Callable[[np.random.Generator, int, dict], np.ndarray]
LANDUSE_CODES = ["0100", "122", "010C", "0101", "34", "1111", "1", "010E", "010D", "0200"]
ZONING = ["LAR1", "LAR3", "LARS", "LBR1N", "LARD1.5", "SCUR2", "LAR2", "LCA11*", "LAC2", "LARE11"]

# Column -> (fraction of non-empty parcels made null, generator). Order matters only where a
# generator reads earlier columns; zip-derived columns are filled from the zip table.
SPEC: dict[str, tuple[float, Generator | None]] = {
    "airconditioningtypeid": (0.728, _pick([1, 13, 5, 11, 9, 3], [85, 10, 2, 1, 1, 1])),
    "architecturalstyletypeid": (0.998, _pick([7, 8, 2, 3, 21], [80, 10, 5, 3, 2])),
    "basementsqft": (0.9995, _lognormal(6.4, 0.6)),
    "bathroomcnt": (0.0, _bathrooms),
    "bedroomcnt": (0.0, _pick([0, 1, 2, 3, 4, 5, 6], [3, 8, 22, 37, 21, 6, 3])),
    "buildingclasstypeid": (0.9958, _pick([4, 3, 1, 2, 5], [60, 30, 5, 4, 1])),
    "buildingqualitytypeid": (0.35, _pick([1, 4, 7, 10, 12], [5, 40, 40, 10, 5])),
    "calculatedbathnbr": (0.04, lambda rng, n, cols: cols["bathroomcnt"].copy()),
    "decktypeid": (0.994, _const(66.0)),
    "finishedfloor1squarefeet": (0.932, _lognormal(7.2, 0.4)),
    "calculatedfinishedsquarefeet": (0.015, lambda rng, n, cols: FLOOR_AREA.draw(rng, n)),
    "finishedsquarefeet12": (
        0.09,
        lambda rng, n, cols: cols["calculatedfinishedsquarefeet"].copy(),
    ),
    "finishedsquarefeet13": (0.997, _lognormal(7.2, 0.3)),
    "finishedsquarefeet15": (0.936, _lognormal(8.0, 0.6)),
    "finishedsquarefeet50": (0.932, _lognormal(7.2, 0.4)),
    "finishedsquarefeet6": (0.9926, _lognormal(7.5, 0.6)),
    "fips": (0.0, None),
    "fireplacecnt": (0.895, _pick([1, 2, 3], [88, 10, 2])),
    "fullbathcnt": (0.04, lambda rng, n, cols: np.floor(cols["bathroomcnt"])),
    "garagecarcnt": (0.70, _pick([0, 1, 2, 3, 4], [5, 15, 70, 7, 3])),
    "garagetotalsqft": (0.70, _lognormal(6.1, 0.4)),
    "hashottuborspa": (0.977, _const("true")),
    "heatingorsystemtypeid": (
        0.394,
        _pick([2, 7, 24, 6, 20, 13, 18, 1], [60, 25, 5, 4, 2, 2, 1, 1]),
    ),
    "latitude": (0.0, None),
    "longitude": (0.0, None),
    "lotsizesquarefeet": (0.11, lambda rng, n, cols: LOTSIZE.draw(rng, n)),
    "poolcnt": (0.826, _const(1.0)),
    "poolsizesum": (0.9906, _lognormal(6.2, 0.3)),
    "pooltypeid10": (0.9876, _const(1.0)),
    "pooltypeid2": (0.989, _const(1.0)),
    "pooltypeid7": (0.837, _const(1.0)),
    "propertycountylandusecode": (0.0003, _pick(LANDUSE_CODES, [35, 15, 10, 10, 8, 7, 5, 4, 3, 3])),
    "propertylandusetypeid": (
        0.0,
        _pick([261, 266, 246, 269, 248, 247, 263, 31], [67, 24, 3, 2, 2, 1, 0.5, 0.5]),
    ),
    "propertyzoningdesc": (0.337, _pick(ZONING)),
    "rawcensustractandblock": (0.0, _tract),
    "regionidcity": (0.021, None),
    "regionidcounty": (0.0, None),
    "regionidneighborhood": (
        0.613,
        lambda rng, n, cols: rng.integers(6952, 764167, n).astype(float),
    ),
    "regionidzip": (0.001, None),
    "roomcnt": (0.0, _pick([0, 4, 5, 6, 7, 8], [70, 5, 7, 8, 6, 4])),
    "storytypeid": (0.9995, _const(7.0)),
    "threequarterbathnbr": (0.896, _pick([1, 2], [97, 3])),
    "typeconstructiontypeid": (0.9977, _const(6.0)),
    "unitcnt": (0.337, _pick([1, 2, 3, 4], [85, 10, 3, 2])),
    "yardbuildingsqft17": (0.973, _lognormal(5.5, 0.5)),
    "yardbuildingsqft26": (0.999, _lognormal(5.0, 0.6)),
    "yearbuilt": (0.016, _year),
    "numberofstories": (0.77, _pick([1, 2, 3], [60, 35, 5])),
    "fireplaceflag": (0.9983, _const("true")),
    "structuretaxvaluedollarcnt": (0.011, _lognormal(12.0, 0.8)),
    "landtaxvaluedollarcnt": (0.019, _lognormal(12.3, 1.0)),
    "taxvaluedollarcnt": (0.0105, _tax_value),
    "assessmentyear": (0.0, _const(2015.0)),
    "taxamount": (0.0067, _tax_amount),
    "taxdelinquencyflag": (0.981, _const("Y")),
    "taxdelinquencyyear": (0.981, _pick([14, 15, 13, 12, 11, 99], [40, 30, 15, 8, 5, 2])),
    "censustractandblock": (
        0.0215,
        lambda rng, n, cols: (
            np.round(cols["rawcensustractandblock"] * 1e3) * 1e3 + rng.integers(1, 30, n)
        ),
    ),
}
# Generators run in this order so that derived columns find their sources.
GENERATION_ORDER = [
    "fips",
    "calculatedfinishedsquarefeet",
    "bathroomcnt",
    "structuretaxvaluedollarcnt",
    "landtaxvaluedollarcnt",
    "taxvaluedollarcnt",
    "rawcensustractandblock",
]


def _zip_columns(
    zips: Zips, zip_of_row: np.ndarray, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    n = len(zip_of_row)
    fips = zips.fips[zip_of_row].astype(float)
    return {
        "fips": fips,
        "regionidcounty": np.array([COUNTIES[int(f)][0] for f in fips], float)
        if n
        else np.zeros(0),
        "regionidzip": zips.codes[zip_of_row].astype(float),
        "regionidcity": zips.city[zip_of_row].astype(float),
        "latitude": np.round(zips.latitude[zip_of_row] + rng.normal(0, 2e4, n)),
        "longitude": np.round(zips.longitude[zip_of_row] + rng.normal(0, 2e4, n)),
    }


def _chunk_values(
    rng: np.random.Generator, zips: Zips, zip_of_row: np.ndarray
) -> dict[str, np.ndarray]:
    """Full (unmasked) values of every property column for one chunk of parcels."""
    n = len(zip_of_row)
    cols = _zip_columns(zips, zip_of_row, rng)
    order = GENERATION_ORDER + [c for c in SPEC if c not in GENERATION_ORDER]
    for name in order:
        generator = SPEC[name][1]
        if generator is not None and name not in cols:
            cols[name] = generator(rng, n, cols)
    return cols


def _to_arrow(name: str, values: np.ndarray, null: np.ndarray) -> pa.Array:
    column = next(c for c in kaggle.PROPERTY_COLUMNS if c.name == name)
    if column.kind == "text":
        return (
            pa.array([str(v) for v in values], pa.string(), mask=null)
            if len(values)
            else pa.array([], pa.string())
        )
    return pa.array(values.astype(float), pa.float64(), mask=null)


def _write_header(handle, names) -> None:
    handle.write((",".join(names) + "\n").encode())


def _write_rows(handle, table: pa.Table) -> None:
    pcsv.write_csv(table, handle, pcsv.WriteOptions(include_header=False, quoting_style="none"))


@dataclass
class Plan:
    """Draws shared by all chunks: zips, empty parcels, which parcels sell, and the sales."""

    zips: Zips
    parcel_ids: np.ndarray
    zip_of_parcel: np.ndarray
    empty: np.ndarray
    sold: np.ndarray  # parcel positions, one per transaction (repeat sales appear twice)
    dates: np.ndarray
    noise: np.ndarray


def plan(seed: int, n_properties: int, n_transactions: int, n_zips: int, truth: Truth) -> Plan:
    rng = np.random.default_rng([seed, STREAM_GLOBAL])
    zips = draw_zips(rng, n_zips, truth.sigma_zip)
    parcel_ids = 10_711_725 + np.cumsum(rng.integers(1, 60, n_properties))
    zip_of_parcel = rng.choice(n_zips, n_properties, p=zips.weights)
    empty = rng.random(n_properties) < EMPTY_PARCEL_FRACTION
    n_repeat = int(round(REPEAT_SALE_FRACTION * n_transactions))
    candidates = np.flatnonzero(~empty)
    first_sales = np.sort(rng.choice(candidates, n_transactions - n_repeat, replace=False))
    sold = np.concatenate([first_sales, rng.choice(first_sales, n_repeat, replace=False)])
    month_weights = np.array([1.0] * 9 + [0.25] * 3)
    day_weights = np.repeat(month_weights, [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
    days = rng.choice(366, len(sold), p=day_weights / day_weights.sum())
    dates = np.datetime64("2016-01-01") + days.astype("timedelta64[D]")
    noise = truth.noise(rng, len(sold))
    return Plan(zips, parcel_ids, zip_of_parcel, empty, sold, dates, noise)


def _linear_predictor(truth: Truth, values: dict[str, np.ndarray]) -> np.ndarray:
    eta = np.full(len(next(iter(values.values()))), truth.intercept)
    for name, beta in truth.betas.items():
        mean, sd = MOMENTS[name]
        z = (values[name] - mean) / sd
        eta += beta * z
        if name == truth.nonlinear_predictor:
            eta += truth.quadratic * (z**2 - 1)
    return eta


def generate(
    seed: int,
    n_properties: int,
    n_transactions: int,
    n_zips: int,
    transactions_path: str | Path,
    properties_path: str | Path,
    truth_path: str | Path,
    truth: Truth = Truth(),
) -> dict:
    """Write the two Kaggle-format CSV files and the raw-scale truth; returns a summary."""
    p = plan(seed, n_properties, n_transactions, n_zips, truth)
    sold_order = np.argsort(p.sold, kind="stable")
    sold_sorted = p.sold[sold_order]
    sold_values = {name: np.empty(len(p.sold)) for name in truth.betas}
    nulls = {name: 0 for name in kaggle.PROPERTY_NAMES}
    with atomic_path(properties_path) as tmp, tmp.open("wb") as handle:
        _write_header(handle, kaggle.PROPERTY_NAMES)
        for chunk, start in enumerate(range(0, n_properties, CHUNK_ROWS)):
            stop = min(start + CHUNK_ROWS, n_properties)
            rng = np.random.default_rng([seed, STREAM_CHUNK, chunk])
            values = _chunk_values(rng, p.zips, p.zip_of_parcel[start:stop])
            # Remember the unmasked values of the sold parcels: logerror depends on them.
            lo, hi = np.searchsorted(sold_sorted, [start, stop])
            for name in truth.betas:
                sold_values[name][sold_order[lo:hi]] = values[name][sold_sorted[lo:hi] - start]
            empty = p.empty[start:stop]
            arrays = [pa.array(p.parcel_ids[start:stop], pa.int64())]
            for name in kaggle.PROPERTY_NAMES[1:]:
                null = empty | (rng.random(stop - start) < SPEC[name][0])
                nulls[name] += int(null.sum())
                arrays.append(_to_arrow(name, values[name], null))
            _write_rows(handle, pa.Table.from_arrays(arrays, names=list(kaggle.PROPERTY_NAMES)))
    zip_effect = p.zips.effects[p.zip_of_parcel[p.sold]]
    logerror = np.round(_linear_predictor(truth, sold_values) + zip_effect + p.noise, 4)
    order = np.argsort(p.dates, kind="stable")  # Kaggle's file is sorted by date
    transactions = pa.table(
        {
            kaggle.PARCEL: pa.array(p.parcel_ids[p.sold][order], pa.int64()),
            kaggle.TARGET: pa.array(logerror[order], pa.float64()),
            kaggle.DATE: pa.array(np.datetime_as_string(p.dates[order], unit="D"), pa.string()),
        }
    )
    with atomic_path(transactions_path) as tmp, tmp.open("wb") as handle:
        _write_header(handle, transactions.column_names)
        _write_rows(handle, transactions)
    raw = raw_truth(truth, p, seed, n_properties, n_transactions)
    raw["null_fractions_properties"] = {k: round(v / n_properties, 6) for k, v in nulls.items()}
    write_json(truth_path, raw)
    return {
        "properties": n_properties,
        "transactions": len(p.sold),
        "zips": n_zips,
        "empty_parcels": int(p.empty.sum()),
        "repeat_sales": int(len(p.sold) - len(np.unique(p.sold))),
        "logerror_min": float(logerror.min()),
        "logerror_max": float(logerror.max()),
    }


def raw_truth(truth: Truth, p: Plan, seed: int, n_properties: int, n_transactions: int) -> dict:
    return {
        "scale": "raw",
        "model": "logerror = intercept + sum_k betas[k] * (x_k - mu_k) / sd_k"
        " + quadratic * (z_nl^2 - 1)"
        " + a_zip + e, e with mean 0 and sd sigma (see noise); logerror rounded to 4 decimals",
        "seed": seed,
        "n_properties": n_properties,
        "n_transactions": n_transactions,
        "intercept": truth.intercept,
        "betas": dict(truth.betas),
        "nonlinear_predictor": truth.nonlinear_predictor,
        "quadratic": truth.quadratic,
        "sigma": truth.sigma,
        "sigma_zip": truth.sigma_zip,
        "noise": noise_description(truth),
        "moments": {name: {"mean": m, "sd": s} for name, (m, s) in MOMENTS.items()},
        "identical_columns": dict(IDENTICAL_COLUMNS),
        "repeat_sales": int(len(p.sold) - len(np.unique(p.sold))),
        "zip_effects": {
            str(int(code)): float(a) for code, a in zip(p.zips.codes, p.zips.effects, strict=False)
        },
        "missing_completely_at_random": True,
    }


def noise_description(truth: Truth) -> dict:
    if truth.noise_df is None:
        return {"family": "normal", "sd": truth.sigma}
    return {
        "family": "truncated_student_t",
        "df": truth.noise_df,
        "scale": truth.noise_scale,
        "bound": truth.noise_bound,
        "sd": truth.sigma,
        "note": "e = scale * StudentT(df) truncated to [-bound, bound]; sd(e) = sigma",
    }


def _model_column(name: str, raw: dict, chosen) -> str | None:
    """The chosen column carrying generating predictor ``name``: itself or an identical column."""
    if name in chosen:
        return name
    twins = [
        c
        for c, source in raw.get("identical_columns", {}).items()
        if source == name and c in chosen
    ]
    return twins[0] if twins else None


def prepared_truth(raw: dict, predictors: dict, zip_groups) -> dict:
    """The generating model rewritten on the prepared predictors z' = (x - m) / s (training m, s).

    With z = (x - mu) / sd = a + b z' (a = (m - mu) / sd, b = s / sd), a linear term beta z becomes
    beta a + beta b z', and gamma (z^2 - 1) becomes gamma b^2 (z'^2 - 1) + 2 gamma a b z' +
    gamma (a^2 + b^2 - 1): the constants go into the intercept, so the result is exact.
    """
    intercept, betas = raw["intercept"], {name: 0.0 for name in predictors["predictors"]}
    quadratic = 0.0
    carried = {}
    for name, beta in raw["betas"].items():
        column = _model_column(name, raw, betas)
        if column is None:
            continue  # a generating predictor left out of the model: its effect joins the noise
        # an identical column has the generating column's values wherever the model sees a row
        carried[name] = column
        a = (predictors["means"][column] - raw["moments"][name]["mean"]) / raw["moments"][name][
            "sd"
        ]
        b = predictors["sds"][column] / raw["moments"][name]["sd"]
        betas[column] = beta * b
        intercept += beta * a
        if name == raw["nonlinear_predictor"]:
            gamma = raw["quadratic"]
            quadratic = gamma * b**2
            betas[column] += 2 * gamma * a * b
            intercept += gamma * (a**2 + b**2 - 1)
    omitted = sorted(set(raw["betas"]) - set(carried))
    effects = {int(k): v for k, v in raw["zip_effects"].items()}
    seen = zip_groups.sort_values("zip_index")
    by_index = [float(effects.get(int(z), 0.0)) for z in seen["regionidzip"]]
    weights = seen["n_train"].to_numpy(float)
    mean_effect = float(np.dot(weights, by_index) / weights.sum()) if weights.sum() else 0.0
    return {
        "scale": "standardized predictors as prepared (training means and sds in predictors.json)",
        "model": "logerror = intercept + sum_k betas[k] * z_k + nonlinear_quadratic * (z_nl^2 - 1)"
        " + zip_effects[zip] + e, e with mean 0 and sd sigma (see noise)",
        "intercept": intercept,
        "betas": betas,
        "sigma": raw["sigma"],
        "sigma_zip": raw["sigma_zip"],
        "noise": raw.get("noise", {"family": "normal", "sd": raw["sigma"]}),
        "nonlinear_predictor": carried.get(raw["nonlinear_predictor"], raw["nonlinear_predictor"]),
        "nonlinear_quadratic": quadratic,
        "generating_columns": {column: name for name, column in carried.items()},
        "zip_effects_by_index": by_index,
        "zip_effects_by_regionidzip": {str(k): v for k, v in sorted(effects.items())},
        "intercept_plus_mean_zip_effect": intercept + mean_effect,
        "predictors_omitted_from_model": omitted,
        "repeat_sales": raw.get("repeat_sales"),
        "raw": {k: raw[k] for k in ("intercept", "betas", "quadratic", "moments", "seed")},
    }
