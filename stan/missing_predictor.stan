// Zillow logerror: varying zip intercepts with one predictor's missing values as unknowns.
//
//   x_i[m] ~ normal(nu, sigma_N)                         (observed: likelihood; missing: prior)
//   y_i ~ normal(alpha + x_i * beta + a_zip[g_i], sigma),  a_zip[g] ~ normal(0, sigma_zip)
//
// The tutorial could not fit this in Edward. Each missing x_i[m] is a latent Normal(nu, sigma_N)
// quantity; so is each zip intercept. Both are integrated out analytically, so NUTS explores only
// alpha, beta, sigma, sigma_zip, nu and sigma_N, and both are then drawn exactly from their joint
// conditional posterior in generated quantities (first a_zip given the data, then every missing
// value given its zip's draw). The draws are the same joint posterior as sampling the missing
// values with NUTS (stan/reference/missing_predictor_parameters.stan; checked in the tests), but
// the cost is O(groups * K) per evaluation, not O(missing rows), and thousands of weakly
// identified coordinates no longer decide R-hat.
//
// Integrating x_i[m] out makes a missing row's residual variance sigma^2 + beta[m]^2 sigma_N^2
// (mean alpha + beta[m] nu + ...), so a zip's rows are jointly normal with covariance
// D + sigma_zip^2 11' (D diagonal, two distinct values), whose inverse and determinant have
// closed forms from per-group sums.
//
// Correlated predictors: NUTS samples theta = R* beta (QR reparameterisation from the complete
// rows' X'X, in transformed data); beta = R*^-1 theta is a transformed parameter. The map is
// linear, so its Jacobian is constant and the priors stay on beta: same model, same posterior.
functions {
  // R* of the QR reparameterisation (Stan User's Guide, "QR reparameterization") from X'X alone:
  // with X = Q R (thin), X'X = R'R, so R is the transposed Cholesky factor of X'X and
  // R* = R / sqrt(N - 1), as qr_thin_R(X) / sqrt(N - 1) up to the signs of its rows.
  matrix qr_r_ast(matrix xx, int n) {
    int k = rows(xx);
    if (k == 0) {
      return xx;
    }
    vector[k] eigen = eigenvalues_sym(xx);
    if (eigen[1] <= 1e-10 * eigen[k]) {
      reject("X'X is singular (smallest eigenvalue ", eigen[1], "): two predictors are (nearly) ",
             "the same column; see zillow.max_predictor_correlation");
    }
    return cholesky_decompose(xx)' / sqrt(max(n - 1, 1));
  }

  // sum_i (y_i - intercept - x_i beta)^2 from the sufficient statistics of a set of rows
  real residual_ss(real yy, real y_sum, vector xy, vector x_sum, matrix xx, int n,
                   real intercept, vector beta) {
    return yy - 2 * intercept * y_sum - 2 * dot_product(beta, xy) + n * square(intercept)
           + 2 * intercept * dot_product(beta, x_sum) + quad_form(xx, beta);
  }

  // Per zip: sum over its rows of residual / variance (complete rows: variance sigma^2; rows
  // missing x[m]: var_mis, mean shifted by beta[m] nu).
  vector zip_weighted_sums(real alpha, vector beta, real nu, int m, real sigma, real var_mis,
                           vector n_group, vector y_group, matrix x_group,
                           vector n_group_mis, vector y_group_mis, matrix x_group_mis) {
    return (y_group - alpha * n_group - x_group * beta) / square(sigma)
           + (y_group_mis - (alpha + beta[m] * nu) * n_group_mis - x_group_mis * beta) / var_mis;
  }
}
data {
  int<lower=1> N;                       // complete training rows (every predictor observed)
  int<lower=1> K;                       // predictors (standardized)
  int<lower=1> G;                       // zip groups
  // sufficient statistics of the complete rows
  real<lower=0> yy;
  real y_sum;
  vector[K] xy;
  vector[K] x_sum;
  matrix[K, K] xx;
  vector<lower=0>[G] n_group;
  vector[G] y_group;
  matrix[G, K] x_group;
  // the imputable predictor is column m; count, sum and sum of squares of its observed values
  int<lower=1, upper=K> m;
  int<lower=0> n_x_obs;
  real x_obs_sum;
  real<lower=0> x_obs_ss;
  // rows whose x[m] is missing (X_mis has column m set to 0) and their sufficient statistics
  int<lower=0> N_mis;
  vector[N_mis] y_mis;
  matrix[N_mis, K] X_mis;
  array[N_mis] int<lower=1, upper=G> g_mis;
  real<lower=0> yy_mis;
  real y_sum_mis;
  vector[K] xy_mis;
  vector[K] x_sum_mis;
  matrix[K, K] xx_mis;
  vector<lower=0>[G] n_group_mis;
  vector[G] y_group_mis;
  matrix[G, K] x_group_mis;
  // rows replicated for prior / posterior predictive checks (complete rows)
  int<lower=0> N_rep;
  vector[N_rep] y_obs;                  // their observed y (checks only, not the likelihood)
  matrix[N_rep, K] X_rep;
  array[N_rep] int<lower=1, upper=G> g_rep;
  int<lower=0, upper=1> prior_only;     // 1: sample the prior (no likelihood)
}
transformed data {
  // theta = R* beta is sampled: the likelihood is nearly spherical in theta whatever the
  // correlation of the predictors, so NUTS needs short trajectories.
  matrix[K, K] R_ast = qr_r_ast(xx, N);
  matrix[K, K] R_ast_inverse = inverse(R_ast);
}
parameters {
  real alpha;
  vector[K] theta;                      // R* beta
  real<lower=0> sigma;
  real<lower=0> sigma_zip;
  real nu;                              // mean of the imputable predictor
  real<lower=0> sigma_N;                // its scale
}
transformed parameters {
  vector[K] beta = R_ast_inverse * theta;  // coefficients on the standardized predictors
}
model {
  // Priors as in random_intercepts.stan. The imputable predictor is standardized on its observed
  // values, so nu ~ N(0, 1) and sigma_N ~ half-normal(0, 1) cover its plausible mean and scale.
  alpha ~ normal(0, 1);
  beta ~ normal(0, 1);
  sigma ~ normal(0, 1);
  sigma_zip ~ normal(0, 1);
  nu ~ normal(0, 1);
  sigma_N ~ normal(0, 1);
  if (!prior_only) {
    real var_mis = square(sigma) + square(beta[m] * sigma_N);
    real tau2 = square(sigma_zip);
    vector[G] weighted_sum = zip_weighted_sums(alpha, beta, nu, m, sigma, var_mis, n_group, y_group, x_group,
                                               n_group_mis, y_group_mis, x_group_mis);
    vector[G] precision_sum = n_group / square(sigma) + n_group_mis / var_mis;
    vector[G] shrink = 1 + tau2 * precision_sum;
    real quad = residual_ss(yy, y_sum, xy, x_sum, xx, N, alpha, beta) / square(sigma)
                + residual_ss(yy_mis, y_sum_mis, xy_mis, x_sum_mis, xx_mis, N_mis, alpha + beta[m] * nu, beta)
                  / var_mis
                - tau2 * sum(square(weighted_sum) ./ shrink);
    real log_det = N * log(square(sigma)) + N_mis * log(var_mis) + sum(log(shrink));
    target += -0.5 * ((N + N_mis) * log(2 * pi()) + log_det + quad);
    // observed values of x[m]: normal likelihood from their count, sum and sum of squares
    target += -n_x_obs * log(sigma_N)
              - 0.5 * (x_obs_ss - 2 * nu * x_obs_sum + n_x_obs * square(nu)) / square(sigma_N);
  }
}
generated quantities {
  // Scales as vectors of the draws' size: normal_rng(vector[0], real) writes one draw into the
  // empty vector (Stan Math sizes its output by the larger argument, a scalar counting 1), which
  // crashed CmdStan 2.35 with a segmentation fault when N_mis or N_rep = 0.
  vector[G] a_zip;                      // zip intercepts, exact draws given the parameters
  vector[N_mis] x_mis;                  // the missing values, exact draws given a_zip
  vector[N_rep] y_rep;
  if (prior_only) {
    a_zip = to_vector(normal_rng(rep_vector(0, G), sigma_zip));
    x_mis = to_vector(normal_rng(rep_vector(nu, N_mis), rep_vector(sigma_N, N_mis)));
  } else {
    real var_mis = square(sigma) + square(beta[m] * sigma_N);
    vector[G] weighted_sum = zip_weighted_sums(alpha, beta, nu, m, sigma, var_mis, n_group, y_group, x_group,
                                               n_group_mis, y_group_mis, x_group_mis);
    vector[G] precision_sum = n_group / square(sigma) + n_group_mis / var_mis;
    // a_g | rest ~ normal(weighted_sum / (1/tau2 + precision_sum), sqrt(1 / (1/tau2 + precision_sum)))
    vector[G] post_precision = inv_square(sigma_zip) + precision_sum;
    a_zip = to_vector(normal_rng(weighted_sum ./ post_precision, inv_sqrt(post_precision)));
    // x_i | a, rest: Normal(nu, sigma_N) prior times the row's likelihood in x (slope beta[m])
    real x_precision = inv_square(sigma_N) + square(beta[m] / sigma);
    vector[N_mis] partial = y_mis - alpha - X_mis * beta - a_zip[g_mis];
    x_mis = to_vector(normal_rng((nu * inv_square(sigma_N) + beta[m] * partial / square(sigma)) / x_precision,
                                 rep_vector(inv_sqrt(x_precision), N_mis)));
  }
  y_rep = to_vector(normal_rng(alpha + X_rep * beta + a_zip[g_rep], rep_vector(sigma, N_rep)));
}
