// Zillow logerror: linear regression with varying zip-code intercepts.
//
//   y_i ~ normal(alpha + x_i * beta + a_zip[g_i], sigma),   a_zip[g] ~ normal(0, sigma_zip)
//
// Exact but fast: the likelihood reads per-group sufficient statistics, so it costs
// O(groups * K) instead of O(rows). The Gaussian zip intercepts are integrated out analytically:
// within group g the rows are jointly normal with covariance sigma^2 I + sigma_zip^2 11', whose
// inverse and determinant have closed forms (Sherman-Morrison, matrix determinant lemma). NUTS
// then explores only alpha, beta, sigma and sigma_zip; the intercepts are drawn exactly from
// their conditional posterior in generated quantities, so every draw of (alpha, beta, sigma,
// sigma_zip, a_zip) comes from the same joint posterior as the pointwise non-centred model
// (checked against stan/reference/random_intercepts_pointwise.stan in the tests).
//
// Correlated predictors: NUTS samples theta = R* beta (QR reparameterisation, computed from X'X in
// transformed data); beta = R*^-1 theta is a transformed parameter. The map is linear, so its
// Jacobian is constant and the priors stay on beta: same generative model, same posterior.
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

  // Sum of squared residuals sum_i (y_i - alpha - x_i beta)^2 from the sufficient statistics.
  real residual_ss(real yy, real y_sum, vector xy, vector x_sum, matrix xx, int n,
                   real alpha, vector beta) {
    return yy - 2 * alpha * y_sum - 2 * dot_product(beta, xy) + n * square(alpha)
           + 2 * alpha * dot_product(beta, x_sum) + quad_form(xx, beta);
  }

  // log p(y | alpha, beta, sigma, sigma_zip) with the zip intercepts integrated out.
  // ss: total squared residual; s: per-group residual sums; n: per-group row counts.
  real grouped_normal_marginal_lpdf(real ss, vector s, vector n, real sigma, real sigma_zip) {
    real sigma2 = square(sigma);
    real tau2 = square(sigma_zip);
    vector[rows(n)] total_var = sigma2 + n * tau2;  // var of a group's residual sum / n
    real quad = (ss - tau2 * sum(square(s) ./ total_var)) / sigma2;
    real n_rows = sum(n);
    // log det: (n_g - 1) log sigma^2 + log(sigma^2 + n_g tau^2) per group (0 for empty groups)
    real log_det = (n_rows - rows(n)) * log(sigma2) + sum(log(total_var));
    return -0.5 * (n_rows * log(2 * pi()) + log_det + quad);
  }
}
data {
  int<lower=1> N;                       // training rows
  int<lower=0> K;                       // predictors (standardized)
  int<lower=1> G;                       // zip groups
  // sufficient statistics of the training rows
  real<lower=0> yy;                     // sum of y^2
  real y_sum;                           // sum of y
  vector[K] xy;                         // X' y
  vector[K] x_sum;                      // column sums of X
  matrix[K, K] xx;                      // X' X
  vector<lower=0>[G] n_group;           // rows per zip group
  vector[G] y_group;                    // per-group sum of y
  matrix[G, K] x_group;                 // per-group column sums of X
  // rows replicated for prior / posterior predictive checks
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
}
transformed parameters {
  vector[K] beta = R_ast_inverse * theta;  // coefficients on the standardized predictors
}
model {
  // Priors of the tutorial on the standardized scale: alpha, beta ~ N(0, 1). The noise and
  // zip scales get half-normal(0, 1) priors: logerror is a log ratio of prices, so scales far
  // above 1 are implausible while 0.01 to 0.5 stay well supported.
  alpha ~ normal(0, 1);
  beta ~ normal(0, 1);
  sigma ~ normal(0, 1);
  sigma_zip ~ normal(0, 1);
  if (!prior_only) {
    real ss = residual_ss(yy, y_sum, xy, x_sum, xx, N, alpha, beta);
    vector[G] s = y_group - alpha * n_group - x_group * beta;
    target += grouped_normal_marginal_lpdf(ss | s, n_group, sigma, sigma_zip);
  }
}
generated quantities {
  vector[G] a_zip;          // zip intercepts, exact draws given the other parameters
  vector[N_rep] y_rep;
  {
    // a_g | rest ~ normal(tau2 s_g / (sigma2 + n_g tau2), sqrt(sigma2 tau2 / (sigma2 + n_g tau2)));
    // under the prior (no data: n_g = s_g = 0) this is normal(0, sigma_zip).
    real sigma2 = square(sigma);
    real tau2 = square(sigma_zip);
    vector[G] n = prior_only ? rep_vector(0, G) : n_group;
    vector[G] s = prior_only ? rep_vector(0, G) : y_group - alpha * n_group - x_group * beta;
    vector[G] total_var = sigma2 + n * tau2;
    a_zip = to_vector(normal_rng(tau2 * s ./ total_var, sqrt(sigma2 * tau2 ./ total_var)));
  }
  // sigma as a vector of size N_rep: normal_rng(vector[0], real) draws one value into the empty
  // vector (Stan Math sizes its output by the larger argument, a scalar counting 1), which
  // crashed CmdStan 2.35 with a segmentation fault when N_rep = 0
  y_rep = to_vector(normal_rng(alpha + X_rep * beta + a_zip[g_rep], rep_vector(sigma, N_rep)));
}
